//! One participant as the room holds it: its str0m session, its upstream slots and the lines
//! forwarded to it, its negotiation and its keyframe requests. The room (`mod.rs`) owns every
//! peer and moves media and requests between them; a peer only ever talks to its own browser.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

use str0m::change::{SdpApi, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::net::{Protocol, Transmit};
use str0m::{Event, IceConnectionState, Output, Rtc};
use tokio::sync::mpsc;
use veilig_protocol::{ErrorCode, MediaLine, ParticipantId, ServerMessage, Source};

use super::{RoomContext, KEYFRAME_INTERVAL};
use crate::counters::Held;
use crate::input::Link;

/// One upstream slot of a participant: a line it sends on.
#[derive(Clone, Copy, Debug)]
pub(super) struct Upstream {
    pub(super) mid: Mid,
    pub(super) source: Source,
    pub(super) kind: MediaKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum ForwardState {
    /// Wants a line in the next offer.
    ToOpen,
    /// In the outstanding offer.
    Negotiating(Mid),
    /// Answered: frames flow.
    Open(Mid),
    /// Origin left: remove in the next offer.
    ToStop(Mid),
}

/// One track forwarded to a participant.
#[derive(Clone, Debug)]
pub(super) struct Forward {
    pub(super) origin: ParticipantId,
    pub(super) origin_mid: Mid,
    pub(super) source: Source,
    pub(super) kind: MediaKind,
    pub(super) state: ForwardState,
}

pub(super) struct Peer {
    pub(super) id: ParticipantId,
    pub(super) rtc: Rtc,
    pub(super) ufrag: String,
    /// ICE-TCP connections to this peer, at most [`crate::tcp::MAX_LINKS_PER_PEER`].
    pub(super) links: Vec<Link>,
    pub(super) signal: mpsc::Sender<ServerMessage>,
    pub(super) pending: Option<SdpPendingOffer>,
    pub(super) upstream: Vec<Upstream>,
    pub(super) forwards: Vec<Forward>,
    pub(super) joined_at: Instant,
    pub(super) connected: bool,
    pub(super) next_timeout: Instant,
    /// Keyframe requests to this peer, per upstream line.
    pub(super) keyframes: HashMap<Mid, KeyframeAsk>,
    /// Counted among the relay's participants while the peer exists.
    pub(super) _counted: Held,
    /// Test-only: labels that lie, by mid (see [`crate::hostile`]).
    #[cfg(feature = "hostile")]
    pub(super) relabels: HashMap<String, MediaLine>,
}

/// Keyframe requests for one upstream line of a peer.
#[derive(Debug, Default)]
pub(super) struct KeyframeAsk {
    /// A request not yet handed to the peer's session.
    pub(super) pending: Option<KeyframeRequestKind>,
    /// When a request was last handed to the peer's session.
    pub(super) sent: Option<Instant>,
}

/// Work one peer's output creates for the others.
pub(super) enum Propagate {
    Media {
        origin: ParticipantId,
        data: Box<MediaData>,
    },
    /// Media on a line that is not one of the peer's upstream slots: never forwarded, only
    /// recorded by the payload tap (an honest relay never gets any).
    Stray {
        origin: ParticipantId,
        data: Box<MediaData>,
    },
    Keyframe {
        origin: ParticipantId,
        origin_mid: Mid,
        kind: KeyframeRequestKind,
    },
}

impl Peer {
    /// Queues a message for the participant's connection. A connection too slow to take it is
    /// closed: its browser rejoins.
    pub(super) fn send(&mut self, message: ServerMessage) {
        if self.signal.try_send(message).is_err() {
            self.rtc.disconnect();
        }
    }

    /// Tells the participant why it is being dropped and ends its session.
    pub(super) fn close(&self, code: ErrorCode, message: &str) {
        let _ = self.signal.try_send(ServerMessage::Error {
            code,
            message: message.to_owned(),
        });
    }

    /// The media lines of the current negotiation, for the browser.
    pub(super) fn lines(&self) -> Vec<MediaLine> {
        let own = self.upstream.iter().map(|slot| MediaLine {
            mid: slot.mid.to_string(),
            source: slot.source,
            from: None,
        });
        let forwarded = self
            .forwards
            .iter()
            .filter_map(|forward| match forward.state {
                ForwardState::Negotiating(mid) | ForwardState::Open(mid) => Some(MediaLine {
                    mid: mid.to_string(),
                    source: forward.source,
                    from: Some(forward.origin.clone()),
                }),
                ForwardState::ToOpen | ForwardState::ToStop(_) => None,
            });
        let lines = own.chain(forwarded);
        #[cfg(feature = "hostile")]
        let lines = lines.map(|line| self.relabels.get(&line.mid).cloned().unwrap_or(line));
        lines.collect()
    }

    /// Sends an offer with the queued changes, unless one is outstanding or nothing changed.
    pub(super) fn negotiate(&mut self) {
        if self.pending.is_some()
            || !self
                .forwards
                .iter()
                .any(|f| matches!(f.state, ForwardState::ToOpen | ForwardState::ToStop(_)))
        {
            return;
        }
        let mut api = self.rtc.sdp_api();
        for forward in &mut self.forwards {
            match forward.state {
                ForwardState::ToOpen => {
                    let mid =
                        add_forward_line(&mut api, forward.kind, &forward.origin, forward.source);
                    forward.state = ForwardState::Negotiating(mid);
                }
                ForwardState::ToStop(mid) => api.stop_media(mid),
                _ => {}
            }
        }
        self.forwards
            .retain(|forward| !matches!(forward.state, ForwardState::ToStop(_)));
        let Some((offer, pending)) = api.apply() else {
            return;
        };
        self.offer(offer, pending);
    }

    /// Sends `offer`, with the labels of its lines, and waits for its answer.
    pub(super) fn offer(&mut self, offer: SdpOffer, pending: SdpPendingOffer) {
        self.pending = Some(pending);
        let lines = self.lines();
        self.send(ServerMessage::Offer {
            sdp: offer.to_sdp_string(),
            lines,
        });
    }

    /// Hands pending keyframe requests to the session, each once its line's interval has passed
    /// and the session can send it; the others stay pending. str0m drops feedback queued before
    /// the session is connected, and refuses requests for a line or incoming stream it does not
    /// know yet (before the answer, or before the origin's SSRC is known).
    pub(super) fn send_keyframe_requests(&mut self, now: Instant) {
        if !self.rtc.is_connected() {
            return;
        }
        for (mid, ask) in &mut self.keyframes {
            let Some(wanted) = ask.pending else {
                continue;
            };
            if ask
                .sent
                .is_some_and(|at| now.duration_since(at) < KEYFRAME_INTERVAL)
            {
                continue;
            }
            let Some(mut writer) = self.rtc.writer(*mid) else {
                continue;
            };
            let other = match wanted {
                KeyframeRequestKind::Pli => KeyframeRequestKind::Fir,
                KeyframeRequestKind::Fir => KeyframeRequestKind::Pli,
            };
            let Some(kind) = [wanted, other]
                .into_iter()
                .find(|kind| writer.is_request_keyframe_possible(*kind))
            else {
                continue;
            };
            if writer.request_keyframe(None, kind).is_ok() {
                tracing::trace!(participant = %self.id, %mid, ?kind, "keyframe requested");
                ask.pending = None;
                ask.sent = Some(now);
            }
        }
    }

    /// When a pending keyframe request held back by the interval may go out, if one is.
    /// Requests waiting for the session are retried whenever the room handles input.
    pub(super) fn keyframe_due(&self, now: Instant) -> Option<Instant> {
        self.keyframes
            .values()
            .filter(|ask| ask.pending.is_some())
            .filter_map(|ask| ask.sent.map(|at| at + KEYFRAME_INTERVAL))
            .filter(|due| *due > now)
            .min()
    }

    /// Sends over the TCP connection `transmit` is addressed to. One that has ended is
    /// forgotten; its packets are lost, as datagrams to a vanished address would be.
    pub(super) fn send_tcp(&mut self, transmit: Transmit) {
        let Some(index) = self
            .links
            .iter()
            .position(|link| link.remote == transmit.destination)
        else {
            return;
        };
        if self.links[index].send(transmit.contents.into()).is_err() {
            self.links.swap_remove(index);
        }
    }

    /// Drains the session's output: datagrams go out, events become work for the room.
    pub(super) fn poll(&mut self, ctx: &RoomContext, work: &mut Vec<Propagate>) {
        loop {
            let output = match self.rtc.poll_output() {
                Ok(output) => output,
                Err(error) => {
                    tracing::info!(participant = %self.id, %error, "session failed");
                    self.rtc.disconnect();
                    return;
                }
            };
            match output {
                Output::Timeout(at) => {
                    self.next_timeout = at;
                    return;
                }
                Output::Transmit(transmit) if transmit.proto == Protocol::Tcp => {
                    self.send_tcp(transmit)
                }
                Output::Transmit(transmit) => {
                    // UDP: a full socket buffer drops the datagram, like the network would.
                    let counters = &ctx.counters;
                    match ctx
                        .socket
                        .try_send_to(&transmit.contents, transmit.destination)
                    {
                        Ok(sent) => {
                            counters.sent_datagrams.fetch_add(1, Ordering::Relaxed);
                            counters
                                .sent_bytes
                                .fetch_add(sent as u64, Ordering::Relaxed);
                        }
                        Err(_) => {
                            counters.unsent_datagrams.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Output::Event(event) => match event {
                    Event::Connected => self.connected = true,
                    // The ICE agent gave up on the pair after 15 s without a check. Dropping
                    // the participant makes its browser rejoin. Waiting longer does not help:
                    // an ice-lite agent needs a new nomination to come back, and measured
                    // after a 20 s outage neither browser sent one (Chromium had failed its
                    // own connection at 19 s and rejoined; Firefox nominated nothing in the
                    // 11 s after the network came back).
                    Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                        tracing::info!(participant = %self.id, "ICE disconnected");
                        self.rtc.disconnect()
                    }
                    Event::MediaData(data)
                        if self.upstream.iter().any(|slot| slot.mid == data.mid) =>
                    {
                        work.push(Propagate::Media {
                            origin: self.id.clone(),
                            data: Box::new(data),
                        });
                    }
                    Event::MediaData(data) => work.push(Propagate::Stray {
                        origin: self.id.clone(),
                        data: Box::new(data),
                    }),
                    Event::KeyframeRequest(request) => {
                        let origin = self
                            .forwards
                            .iter()
                            .find(|f| f.state == ForwardState::Open(request.mid));
                        if let Some(forward) = origin {
                            work.push(Propagate::Keyframe {
                                origin: forward.origin.clone(),
                                origin_mid: forward.origin_mid,
                                kind: request.kind,
                            });
                        }
                    }
                    _ => {}
                },
            }
        }
    }
}

/// Adds a send-only line carrying `origin`'s `source` track, labelled (msid) with who and what.
pub(super) fn add_forward_line(
    api: &mut SdpApi<'_>,
    kind: MediaKind,
    origin: &ParticipantId,
    source: Source,
) -> Mid {
    api.add_media(
        kind,
        Direction::SendOnly,
        Some(origin.to_string()),
        Some(track_id(origin, source)),
        None,
    )
}

/// The msid track id of a forwarded track: who and what, never anything personal.
pub(super) fn track_id(origin: &ParticipantId, source: Source) -> String {
    let source = match source {
        Source::Microphone => "microphone",
        Source::Camera => "camera",
        Source::Screen => "screen",
    };
    format!("{origin}-{source}")
}
