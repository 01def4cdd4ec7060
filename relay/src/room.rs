//! One room: a task that alone owns the room's participants, their WebRTC sessions (`str0m::Rtc`,
//! one per participant) and the forwarding between them.
//!
//! Everything reaches the room as a [`RoomInput`] on one channel: joins, answers, blobs and
//! leaves from signaling connections, datagrams from the UDP router, and from ICE-TCP
//! connections ([`crate::tcp`]) first a [`Link`] back to them, then their packets. Nothing is shared with other
//! rooms, so a room could run on any node (the plan for spreading rooms over relays via NATS).
//!
//! ## Media
//! str0m runs in *frame mode*: it depacketizes each participant's RTP into frames, and the room
//! writes every frame, unchanged, to every other participant's matching outgoing media line;
//! str0m repacketizes, and handles NACK/RTX, TWCC and RTCP per hop. This works on SFrame
//! ciphertext because for the two codecs the relay negotiates, VP8 and Opus, str0m's depacketizer
//! reads nothing of the payload but the VP8 key-frame bit (byte 0, left in the clear by the E2EE
//! layout) and copies the rest as opaque bytes. H.264 is not offered: str0m's packetizer splits
//! H.264 frames at start codes it searches for in the payload.
//!
//! ## Negotiation
//! The relay always makes the offer and browsers only answer, so offers never collide. A new
//! participant's first offer has its three upstream slots (microphone, camera, screen; receive-only
//! on our side) and one send-only line per track of everyone already there. Existing participants
//! get an offer with the newcomer's three tracks; when someone leaves, their lines are stopped.
//! One offer is outstanding per participant; changes queue until its answer arrives.
//!
//! ## Keyframes
//! When a forwarded line opens, and whenever a receiver sends PLI/FIR or a frame arrives after
//! unrecoverable loss, the origin is asked for a keyframe, so a newcomer sees a picture at once.
//! A request is never dropped: it stays pending on the origin's line until it can go out. It
//! waits while the origin's session cannot send it (not connected yet, line or incoming stream
//! not negotiated yet: str0m would refuse it or silently discard the feedback), and while the
//! line was asked less than 300 ms ago; requests that meet while pending become one.
//! Until that keyframe comes, the line's video after a gap is held back ([`crate::gaps`]):
//! receivers could not tell the frames that follow a missing one from good ones.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::change::{SdpAnswer, SdpApi, SdpOffer, SdpPendingOffer};
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::net::{Protocol, Receive, TcpType, Transmit};
use str0m::{Candidate, Event, IceConnectionState, IceCreds, Input, Output, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use veilig_protocol::{
    ErrorCode, MediaLine, ParticipantId, RoomId, ServerMessage, Source, PROTOCOL_VERSION,
};

use crate::gaps::{Frame, Gaps};
use crate::metrics::{Counters, Gauge, Held};
use crate::rooms::{RoomTag, Rooms};
use crate::tap::Tap;
use crate::tcp::{Link, MAX_LINKS_PER_PEER};
use crate::turn::TurnIssuer;
use crate::udp::{Datagram, RouteRequest};

/// How long a participant may take to connect media after joining.
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);
/// Least time between keyframe requests sent for one track; later ones wait, and merge.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(300);
/// Longest the room sleeps without checking deadlines.
const MAX_SLEEP: Duration = Duration::from_millis(500);

/// What a room task receives.
#[derive(Debug)]
pub enum RoomInput {
    /// A signaling connection wants in.
    Join {
        /// Where the room sends this participant's messages.
        signal: mpsc::Sender<ServerMessage>,
        /// The new participant's id, or why not.
        reply: oneshot::Sender<Result<ParticipantId, ErrorCode>>,
    },
    /// The answer to the participant's outstanding offer.
    Answer {
        /// Who.
        participant: ParticipantId,
        /// SDP answer.
        sdp: String,
    },
    /// An opaque blob to pass on.
    Blob {
        /// Sender.
        from: ParticipantId,
        /// One recipient, or everyone else.
        to: Option<ParticipantId>,
        /// As received.
        data: String,
    },
    /// The participant left or its connection closed.
    Leave {
        /// Who.
        participant: ParticipantId,
    },
    /// A datagram, or a packet from a TCP connection, for one of the room's peers.
    Datagram(Datagram),
    /// A TCP connection whose first packet named a peer of this room; its packets follow.
    Link(Link),
    /// The relay is shutting down.
    Shutdown,
    /// Test-only: lie to the participants (see [`crate::hostile`]); replies with how many
    /// victims were sent the lie.
    #[cfg(feature = "hostile")]
    Attack {
        /// The lie.
        attack: crate::hostile::Attack,
        /// How many victims, or why not now.
        reply: oneshot::Sender<Result<usize, crate::hostile::NotNow>>,
    },
}

/// What every room needs from the relay.
#[derive(Clone, Debug)]
pub struct RoomContext {
    /// The shared media socket.
    pub socket: Arc<UdpSocket>,
    /// Route registrations.
    pub routes: mpsc::Sender<RouteRequest>,
    /// The address put into the UDP ICE candidate.
    pub candidate: SocketAddr,
    /// The address put into the passive TCP candidate, if ICE-TCP is on.
    pub tcp_candidate: Option<SocketAddr>,
    /// Issues TURN credentials with each welcome, if TURN is configured.
    pub turn: Option<Arc<TurnIssuer>>,
    /// Most participants per room.
    pub max_participants: usize,
    /// Where forwarded payloads are recorded, in test builds that ask for it.
    pub tap: Option<Tap>,
    /// Counts for operators.
    pub counters: Arc<Counters>,
}

/// One upstream slot of a participant: a line it sends on.
#[derive(Clone, Copy, Debug)]
struct Upstream {
    mid: Mid,
    source: Source,
    kind: MediaKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ForwardState {
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
struct Forward {
    origin: ParticipantId,
    origin_mid: Mid,
    source: Source,
    kind: MediaKind,
    state: ForwardState,
}

struct Peer {
    id: ParticipantId,
    rtc: Rtc,
    ufrag: String,
    /// ICE-TCP connections to this peer, at most [`MAX_LINKS_PER_PEER`].
    links: Vec<Link>,
    signal: mpsc::Sender<ServerMessage>,
    pending: Option<SdpPendingOffer>,
    upstream: Vec<Upstream>,
    forwards: Vec<Forward>,
    joined_at: Instant,
    connected: bool,
    next_timeout: Instant,
    /// Keyframe requests to this peer, per upstream line.
    keyframes: HashMap<Mid, KeyframeAsk>,
    /// Counted among the relay's participants while the peer exists.
    _counted: Held,
    /// Test-only: labels that lie, by mid (see [`crate::hostile`]).
    #[cfg(feature = "hostile")]
    relabels: HashMap<String, MediaLine>,
}

/// Keyframe requests for one upstream line of a peer.
#[derive(Debug, Default)]
struct KeyframeAsk {
    /// A request not yet handed to the peer's session.
    pending: Option<KeyframeRequestKind>,
    /// When a request was last handed to the peer's session.
    sent: Option<Instant>,
}

/// Work one peer's output creates for the others.
enum Propagate {
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

/// A room's state. Owned by its task; see the module docs.
pub struct Room {
    id: RoomId,
    /// What logs say instead of the id.
    tag: RoomTag,
    ctx: RoomContext,
    rooms: Rooms,
    inbox: mpsc::Sender<RoomInput>,
    peers: Vec<Peer>,
    gaps: Gaps,
    /// Test-only: two participants whose notes are delivered as each other's.
    #[cfg(feature = "hostile")]
    swapped_notes: Option<(ParticipantId, ParticipantId)>,
}

impl Room {
    /// A room; `inbox` is the sending side of the channel [`Room::run`] will read.
    pub fn new(id: RoomId, ctx: RoomContext, rooms: Rooms, inbox: mpsc::Sender<RoomInput>) -> Self {
        Room {
            tag: RoomTag::of(&id),
            id,
            ctx,
            rooms,
            inbox,
            peers: Vec::new(),
            gaps: Gaps::default(),
            #[cfg(feature = "hostile")]
            swapped_notes: None,
        }
    }

    /// Runs the room until it is empty (and nobody is joining) or the relay shuts down.
    pub async fn run(mut self, mut inputs: mpsc::Receiver<RoomInput>) {
        tracing::info!(room = %self.tag, "room opened");
        loop {
            let wake = self.next_wake();
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(RoomInput::Shutdown) | None => {
                        self.close_all(ErrorCode::ShuttingDown, "the relay is restarting");
                        break;
                    }
                    Some(input) => self.handle(input).await,
                },
                _ = tokio::time::sleep_until(wake.into()) => self.on_timeout(Instant::now()),
            }
            self.drive(Instant::now());
            self.remove_dead().await;
            if self.peers.is_empty() && self.rooms.close_if_idle(&self.id, &inputs) {
                break;
            }
        }
        tracing::info!(room = %self.tag, "room closed");
    }

    async fn handle(&mut self, input: RoomInput) {
        match input {
            RoomInput::Join { signal, reply } => {
                let result = self.join(signal).await;
                let _ = reply.send(result);
            }
            RoomInput::Answer { participant, sdp } => self.answer(&participant, &sdp),
            RoomInput::Blob { from, to, data } => self.blob(from, to, data),
            RoomInput::Leave { participant } => self.leave(&participant).await,
            RoomInput::Datagram(datagram) => self.datagram(datagram),
            RoomInput::Link(link) => self.link(link),
            RoomInput::Shutdown => {}
            #[cfg(feature = "hostile")]
            RoomInput::Attack { attack, reply } => {
                let _ = reply.send(self.attack(&attack));
            }
        }
    }

    async fn join(
        &mut self,
        signal: mpsc::Sender<ServerMessage>,
    ) -> Result<ParticipantId, ErrorCode> {
        if self.peers.len() >= self.ctx.max_participants {
            return Err(ErrorCode::RoomFull);
        }
        let id = new_participant_id();
        let now = Instant::now();
        let creds = IceCreds::new();
        let ufrag = creds.ufrag.clone();
        let mut rtc = Rtc::builder()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_vp8(true)
            .enable_opus(true, false)
            .set_local_ice_credentials(creds)
            .build(now);
        for candidate in local_candidates(&self.ctx)? {
            rtc.add_local_candidate(candidate);
        }
        let mut api = rtc.sdp_api();
        let upstream = [
            (MediaKind::Audio, Source::Microphone),
            (MediaKind::Video, Source::Camera),
            (MediaKind::Video, Source::Screen),
        ]
        .map(|(kind, source)| Upstream {
            mid: api.add_media(kind, Direction::RecvOnly, None, None, None),
            source,
            kind,
        })
        .to_vec();
        let mut forwards = Vec::new();
        for other in &self.peers {
            for slot in &other.upstream {
                let mid = add_forward_line(&mut api, slot.kind, &other.id, slot.source);
                forwards.push(Forward {
                    origin: other.id.clone(),
                    origin_mid: slot.mid,
                    source: slot.source,
                    kind: slot.kind,
                    state: ForwardState::Negotiating(mid),
                });
            }
        }
        let (offer, pending) = api.apply().ok_or(ErrorCode::Internal)?;
        if self
            .ctx
            .routes
            .send(RouteRequest::Register {
                ufrag: ufrag.clone(),
                room: self.inbox.clone(),
            })
            .await
            .is_err()
        {
            return Err(ErrorCode::ShuttingDown);
        }
        let participants = self.peers.iter().map(|peer| peer.id.clone()).collect();
        let mut peer = Peer {
            id: id.clone(),
            rtc,
            ufrag,
            links: Vec::new(),
            signal,
            pending: Some(pending),
            upstream,
            forwards,
            joined_at: now,
            connected: false,
            next_timeout: now,
            keyframes: HashMap::new(),
            _counted: self.ctx.counters.hold(Gauge::Participants),
            #[cfg(feature = "hostile")]
            relabels: HashMap::new(),
        };
        peer.send(ServerMessage::Welcome {
            version: PROTOCOL_VERSION,
            you: id.clone(),
            participants,
            ice_servers: self.ctx.turn.iter().map(|turn| turn.issue()).collect(),
        });
        let lines = peer.lines();
        peer.send(ServerMessage::Offer {
            sdp: offer.to_sdp_string(),
            lines,
        });
        for other in &mut self.peers {
            other.send(ServerMessage::Joined {
                participant: id.clone(),
            });
            for slot in &peer.upstream {
                other.forwards.push(Forward {
                    origin: id.clone(),
                    origin_mid: slot.mid,
                    source: slot.source,
                    kind: slot.kind,
                    state: ForwardState::ToOpen,
                });
            }
            other.negotiate();
        }
        tracing::info!(room = %self.tag, participant = %id, participants = self.peers.len() + 1, "joined");
        self.peers.push(peer);
        Ok(id)
    }

    fn answer(&mut self, participant: &ParticipantId, sdp: &str) {
        let Some(index) = self.peers.iter().position(|peer| &peer.id == participant) else {
            return;
        };
        let peer = &mut self.peers[index];
        let accepted = match (peer.pending.take(), SdpAnswer::from_sdp_string(sdp)) {
            (Some(pending), Ok(answer)) => peer
                .rtc
                .sdp_api()
                .accept_answer(pending, answer)
                .map_err(|e| e.to_string()),
            (None, _) => Err("no offer is outstanding".to_owned()),
            (_, Err(error)) => Err(error.to_string()),
        };
        if let Err(error) = accepted {
            tracing::info!(room = %self.tag, %participant, %error, "answer refused");
            peer.close(ErrorCode::BadSdp, "the answer was refused");
            return;
        }
        let mut opened = Vec::new();
        for forward in &mut peer.forwards {
            if let ForwardState::Negotiating(mid) = forward.state {
                forward.state = ForwardState::Open(mid);
                if forward.kind == MediaKind::Video {
                    opened.push((forward.origin.clone(), forward.origin_mid));
                }
            }
        }
        peer.negotiate();
        let now = Instant::now();
        for (origin, origin_mid) in opened {
            self.request_keyframe(&origin, origin_mid, KeyframeRequestKind::Pli, now);
        }
    }

    fn blob(&mut self, from: ParticipantId, to: Option<ParticipantId>, data: String) {
        #[cfg(feature = "hostile")]
        let shown_as = match &self.swapped_notes {
            Some((a, b)) if *a == from => b.clone(),
            Some((a, b)) if *b == from => a.clone(),
            _ => from.clone(),
        };
        #[cfg(not(feature = "hostile"))]
        let shown_as = from.clone();
        for peer in self
            .peers
            .iter_mut()
            .filter(|peer| peer.id != from && to.as_ref().is_none_or(|to| *to == peer.id))
        {
            peer.send(ServerMessage::Blob {
                from: shown_as.clone(),
                data: data.clone(),
            });
        }
    }

    async fn leave(&mut self, participant: &ParticipantId) {
        let Some(index) = self.peers.iter().position(|peer| &peer.id == participant) else {
            return;
        };
        let peer = self.peers.remove(index);
        self.forget(peer).await;
    }

    /// Removes every trace of a peer that is gone, and tells the others.
    async fn forget(&mut self, mut peer: Peer) {
        peer.rtc.disconnect();
        self.gaps.forget(&peer.id);
        let _ = self
            .ctx
            .routes
            .send(RouteRequest::Unregister {
                ufrag: peer.ufrag.clone(),
            })
            .await;
        for other in &mut self.peers {
            other.forwards.retain_mut(|forward| {
                if forward.origin != peer.id {
                    return true;
                }
                match forward.state {
                    ForwardState::ToOpen => false,
                    ForwardState::Negotiating(mid)
                    | ForwardState::Open(mid)
                    | ForwardState::ToStop(mid) => {
                        forward.state = ForwardState::ToStop(mid);
                        true
                    }
                }
            });
            other.send(ServerMessage::Left {
                participant: peer.id.clone(),
            });
            other.negotiate();
        }
        tracing::info!(room = %self.tag, participant = %peer.id, participants = self.peers.len(), "left");
    }

    fn datagram(&mut self, datagram: Datagram) {
        let Ok(contents) = datagram.contents.as_slice().try_into() else {
            return;
        };
        let input = Input::Receive(
            datagram.at,
            Receive {
                proto: datagram.proto,
                source: datagram.source,
                destination: datagram.destination,
                contents,
            },
        );
        if let Some(peer) = self.peers.iter_mut().find(|peer| peer.rtc.accepts(&input)) {
            if let Err(error) = peer.rtc.handle_input(input) {
                tracing::debug!(participant = %peer.id, %error, "input refused");
            }
        }
    }

    /// Keeps a TCP connection's link on the peer it names; one too many, or for a peer gone
    /// already, is dropped, which ends the connection.
    fn link(&mut self, link: Link) {
        let Some(peer) = self.peers.iter_mut().find(|peer| peer.ufrag == link.ufrag) else {
            return;
        };
        if peer.links.len() >= MAX_LINKS_PER_PEER {
            tracing::debug!(participant = %peer.id, "too many TCP connections");
            return;
        }
        peer.links.push(link);
    }

    fn on_timeout(&mut self, now: Instant) {
        for peer in &mut self.peers {
            if peer.next_timeout <= now {
                let _ = peer.rtc.handle_input(Input::Timeout(now));
            }
            if !peer.connected && now.duration_since(peer.joined_at) > CONNECT_DEADLINE {
                tracing::info!(participant = %peer.id, "media never connected");
                peer.close(ErrorCode::ConnectionLost, "media did not connect");
            }
        }
    }

    fn next_wake(&self) -> Instant {
        let now = Instant::now();
        let latest = now + MAX_SLEEP;
        self.peers
            .iter()
            .flat_map(|peer| [Some(peer.next_timeout), peer.keyframe_due(now)])
            .flatten()
            .min()
            .unwrap_or(latest)
            .min(latest)
    }

    /// Polls every peer until it waits, and carries each peer's media and keyframe requests to
    /// the others, until nobody has anything left to say.
    fn drive(&mut self, now: Instant) {
        loop {
            let mut work = Vec::new();
            for peer in &mut self.peers {
                peer.send_keyframe_requests(now);
                peer.poll(&self.ctx, &mut work);
            }
            if work.is_empty() {
                return;
            }
            for item in work {
                match item {
                    Propagate::Media { origin, data } => self.forward(&origin, &data, now),
                    Propagate::Stray { origin, data } => {
                        if let Some(tap) = &self.ctx.tap {
                            tap.record_stray(&self.id, &origin, &data);
                        }
                    }
                    Propagate::Keyframe {
                        origin,
                        origin_mid,
                        kind,
                    } => self.request_keyframe(&origin, origin_mid, kind, now),
                }
            }
        }
    }

    fn forward(&mut self, origin: &ParticipantId, data: &MediaData, now: Instant) {
        if !data.contiguous {
            self.request_keyframe(origin, data.mid, KeyframeRequestKind::Pli, now);
        }
        let frame = Frame {
            video: !data.params.spec().codec.is_audio(),
            contiguous: data.contiguous,
            keyframe: data.is_keyframe(),
        };
        // Every frame received is recorded, held back or not.
        if let Some(tap) = &self.ctx.tap {
            tap.record(&self.id, origin, data);
        }
        if !self.gaps.admit(origin, data.mid, frame) {
            tracing::debug!(room = %self.tag, %origin, mid = %data.mid, "held back until a keyframe");
            return;
        }
        for peer in self.peers.iter_mut().filter(|peer| &peer.id != origin) {
            let Some(mid) = peer
                .forwards
                .iter()
                .find_map(|forward| match forward.state {
                    ForwardState::Open(mid)
                        if &forward.origin == origin && forward.origin_mid == data.mid =>
                    {
                        Some(mid)
                    }
                    _ => None,
                })
            else {
                continue;
            };
            let Some(writer) = peer.rtc.writer(mid) else {
                continue;
            };
            let Some(pt) = writer.match_params(data.params) else {
                continue;
            };
            match writer.write(pt, data.network_time, data.time, data.data.clone()) {
                Ok(()) => {
                    let counters = &self.ctx.counters;
                    counters.forwarded_frames.fetch_add(1, Ordering::Relaxed);
                    counters
                        .forwarded_bytes
                        .fetch_add(data.data.len() as u64, Ordering::Relaxed);
                }
                Err(error) => tracing::debug!(participant = %peer.id, %error, "write refused"),
            }
        }
    }

    /// Asks `origin` for a keyframe on its upstream line `mid`: now if it can be sent, else as
    /// soon as it can (see the module docs).
    /// Test-only: tells `attack`'s lie in a new offer to every peer it is aimed at.
    #[cfg(feature = "hostile")]
    fn attack(&mut self, attack: &crate::hostile::Attack) -> Result<usize, crate::hostile::NotNow> {
        use crate::hostile::{Attack, NotNow};
        if let Attack::SwapNotes { a, b } = attack {
            self.swapped_notes = Some((a.clone(), b.clone()));
            tracing::warn!(room = %self.id, ?attack, "attacked");
            return Ok(self.peers.len());
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
                Attack::SwapNotes { .. } => unreachable!("handled above"),
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
            tracing::warn!(room = %self.id, victim = %peer.id, ?attack, "attacked");
            victims += 1;
        }
        if victims == 0 {
            return Err(NotNow::NotReady);
        }
        Ok(victims)
    }

    fn request_keyframe(
        &mut self,
        origin: &ParticipantId,
        mid: Mid,
        kind: KeyframeRequestKind,
        now: Instant,
    ) {
        let Some(peer) = self.peers.iter_mut().find(|peer| &peer.id == origin) else {
            return;
        };
        if !peer.upstream.iter().any(|slot| slot.mid == mid) {
            return;
        }
        let ask = peer.keyframes.entry(mid).or_default();
        // FIR is the stronger request; two pending requests become one.
        ask.pending = match (ask.pending, kind) {
            (Some(KeyframeRequestKind::Fir), _) => Some(KeyframeRequestKind::Fir),
            _ => Some(kind),
        };
        peer.send_keyframe_requests(now);
    }

    /// Forgets peers whose session ended (ICE lost, refused answer, closed by us).
    async fn remove_dead(&mut self) {
        while let Some(index) = self
            .peers
            .iter()
            .position(|peer| !peer.rtc.is_alive() || peer.signal.is_closed())
        {
            let peer = self.peers.remove(index);
            peer.close(ErrorCode::ConnectionLost, "media connection lost");
            self.forget(peer).await;
        }
    }

    fn close_all(&mut self, code: ErrorCode, message: &str) {
        for peer in &mut self.peers {
            peer.close(code, message);
        }
    }
}

impl Peer {
    /// Queues a message for the participant's connection. A connection too slow to take it is
    /// closed: its browser rejoins.
    fn send(&mut self, message: ServerMessage) {
        if self.signal.try_send(message).is_err() {
            self.rtc.disconnect();
        }
    }

    /// Tells the participant why it is being dropped and ends its session.
    fn close(&self, code: ErrorCode, message: &str) {
        let _ = self.signal.try_send(ServerMessage::Error {
            code,
            message: message.to_owned(),
        });
    }

    /// The media lines of the current negotiation, for the browser.
    fn lines(&self) -> Vec<MediaLine> {
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
    fn negotiate(&mut self) {
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
    fn offer(&mut self, offer: SdpOffer, pending: SdpPendingOffer) {
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
    fn send_keyframe_requests(&mut self, now: Instant) {
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
    fn keyframe_due(&self, now: Instant) -> Option<Instant> {
        self.keyframes
            .values()
            .filter(|ask| ask.pending.is_some())
            .filter_map(|ask| ask.sent.map(|at| at + KEYFRAME_INTERVAL))
            .filter(|due| *due > now)
            .min()
    }

    /// Sends over the TCP connection `transmit` is addressed to. One that has ended is
    /// forgotten; its packets are lost, as datagrams to a vanished address would be.
    fn send_tcp(&mut self, transmit: Transmit) {
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
    fn poll(&mut self, ctx: &RoomContext, work: &mut Vec<Propagate>) {
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

/// The relay's ICE candidates: UDP, and a passive TCP one if ICE-TCP is on.
fn local_candidates(ctx: &RoomContext) -> Result<Vec<Candidate>, ErrorCode> {
    let udp = Candidate::host(ctx.candidate, "udp");
    let tcp = ctx.tcp_candidate.map(|addr| {
        Candidate::builder()
            .tcp()
            .host(addr)
            .tcptype(TcpType::Passive)
            .build()
    });
    [Some(udp), tcp]
        .into_iter()
        .flatten()
        .collect::<Result<_, _>>()
        .map_err(|error| {
            tracing::error!(%error, "cannot make an ICE candidate");
            ErrorCode::Internal
        })
}

/// Adds a send-only line carrying `origin`'s `source` track, labelled (msid) with who and what.
fn add_forward_line(
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
fn track_id(origin: &ParticipantId, source: Source) -> String {
    let source = match source {
        Source::Microphone => "microphone",
        Source::Camera => "camera",
        Source::Screen => "screen",
    };
    format!("{origin}-{source}")
}

/// A fresh random participant id: 16 hex digits, meaningless outside this join.
fn new_participant_id() -> ParticipantId {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random number generator works");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    ParticipantId::new(&hex).expect("hex is a valid participant id")
}
