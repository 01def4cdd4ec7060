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

use str0m::change::SdpAnswer;
use str0m::media::{Direction, KeyframeRequestKind, MediaData, MediaKind, Mid};
use str0m::net::{Receive, TcpType};
use str0m::{Candidate, IceCreds, Input, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use veilig_protocol::{ErrorCode, ParticipantId, RoomId, ServerMessage, Source, PROTOCOL_VERSION};

use crate::counters::{Counters, Gauge};
use crate::directory::Directory;
use crate::gaps::{Frame, Gaps};
use crate::input::RoomInput;
use crate::input::{Datagram, Link, RouteRequest, MAX_LINKS_PER_PEER};
use crate::tag::RoomTag;
use crate::tap::Tap;
use crate::turn::TurnIssuer;

mod handshake;
mod peer;
pub use handshake::Handshake;
use handshake::Sequence;
use peer::{add_forward_line, Forward, ForwardState, Peer, Propagate, Upstream};

#[cfg(feature = "hostile")]
mod hostile;

/// How long a participant may take to connect media after joining.
const CONNECT_DEADLINE: Duration = Duration::from_secs(30);
/// Least time between keyframe requests sent for one track; later ones wait, and merge.
const KEYFRAME_INTERVAL: Duration = Duration::from_millis(300);
/// Longest the room sleeps without checking deadlines.
const MAX_SLEEP: Duration = Duration::from_millis(500);

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

/// A room's state. Owned by its task; see the module docs.
pub struct Room {
    id: RoomId,
    /// What logs say instead of the id.
    tag: RoomTag,
    ctx: RoomContext,
    directory: Directory,
    inbox: mpsc::Sender<RoomInput>,
    peers: Vec<Peer>,
    gaps: Gaps,
    /// The next commit's number.
    commits: Sequence,
    /// Test-only: the lies in force (see [`crate::hostile`]).
    #[cfg(feature = "hostile")]
    lies: hostile::Lies,
}

impl Room {
    /// A room; `inbox` is the sending side of the channel [`Room::run`] will read.
    pub fn new(
        id: RoomId,
        ctx: RoomContext,
        directory: Directory,
        inbox: mpsc::Sender<RoomInput>,
    ) -> Self {
        Room {
            tag: RoomTag::of(&id),
            id,
            ctx,
            directory,
            inbox,
            peers: Vec::new(),
            gaps: Gaps::default(),
            commits: Sequence::default(),
            #[cfg(feature = "hostile")]
            lies: hostile::Lies::default(),
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
            if self.peers.is_empty() && self.directory.close_if_idle(&self.id, &inputs) {
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
            RoomInput::Handshake { from, message } => self.handshake(from, message),
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
        #[cfg(feature = "hostile")]
        self.lie_to_newcomer(&mut peer);
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
        let shown_as = {
            self.lies.note(&from, to.as_ref(), &data);
            self.lies.note_sender(&from)
        };
        #[cfg(not(feature = "hostile"))]
        let shown_as = from.clone();
        for peer in self
            .peers
            .iter_mut()
            .filter(|peer| peer.id != from && to.as_ref().is_none_or(|to| *to == peer.id))
        {
            #[cfg(feature = "hostile")]
            if self.lies.withholds(&from, &peer.id) {
                continue;
            }
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
        #[cfg(feature = "hostile")]
        self.lies.frame(origin, data);
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
            #[cfg(feature = "hostile")]
            let payload = self
                .lies
                .replace(&peer.id, origin, data.mid)
                .unwrap_or_else(|| data.data.clone());
            #[cfg(not(feature = "hostile"))]
            let payload = data.data.clone();
            match writer.write(pt, data.network_time, data.time, payload) {
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

/// A fresh random participant id: 16 hex digits, meaningless outside this join.
fn new_participant_id() -> ParticipantId {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random number generator works");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    ParticipantId::new(&hex).expect("hex is a valid participant id")
}
