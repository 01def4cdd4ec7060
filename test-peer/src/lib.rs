//! A native Veilig participant for tests: a real WebRTC peer (str0m, no browser) that speaks
//! the real signaling protocol over a real WebSocket, answers the relay's offers, and sends and
//! receives media over UDP, or over ICE-TCP only ([`Transport`]).
//!
//! It knows nothing of encryption: it sends the bytes it is given and reports the bytes it
//! receives, so the relay's tests can send synthetic frames and the app's tests can send
//! SFrame-encrypted ones sealed with the room's key. One task per participant owns its
//! `str0m::Rtc` and its sockets; the test talks to it through a [`Participant`] handle.
//!
//! ```text
//!  test ── Participant (commands) ──► drive task ── WebSocket ──► relay signaling
//!   ▲                                    │  str0m ── UDP / TCP ──► relay media
//!   └──────────── Seen (events) ─────────┘
//! ```
//!
//! Panic policy: this is test code; a broken relay or a refused write panics the driving task,
//! and the handle then reports that the participant stopped.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use str0m::format::Codec;
use str0m::media::{Frequency, KeyframeRequestKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive, TcpType};
use str0m::{Candidate, Event, Input, Output, Rtc};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use veilig_protocol::{
    ClientMessage, MediaLine, ParticipantId, RoomAccess, RoomId, ServerMessage, Source,
    PROTOCOL_VERSION,
};
use veilig_relay::Relay;

pub use tokio_tungstenite;

pub mod janus;

/// Generous: these machines are small and often busy.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// The access value test participants present unless given another ([`Participant::join_with`]):
/// any fixed value does, since the first joiner of a room registers whatever it presents. Tests of
/// a real meeting present the link's own value (`RoomKeys::access`), as the browsers do.
pub fn test_access() -> RoomAccess {
    RoomAccess::new(&"7e57".repeat(16)).expect("64 lowercase hex digits")
}

/// The signaling URL of a relay.
pub fn ws_url(relay: &Relay) -> String {
    format!("ws://{}/ws", relay.http_addr)
}

/// How a participant's media reaches the relay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP, from a UDP host candidate: what browsers use whenever they can.
    Udp,
    /// ICE-TCP only, as a browser behind a firewall that blocks UDP: no UDP candidate at all;
    /// a TCP connection to the passive candidate in the relay's first offer, RFC 4571 framing.
    Tcp,
}

/// What a participant saw.
#[derive(Debug)]
pub enum Seen {
    /// A signaling message (offers are answered automatically, and reported too).
    Signal(ServerMessage),
    /// A media frame forwarded from another participant, and when it arrived.
    Frame {
        from: ParticipantId,
        source: Source,
        data: Vec<u8>,
        at: Instant,
    },
    /// ICE and DTLS are up.
    Connected,
    /// The relay asked for a keyframe on one of our upstream slots.
    KeyframeRequest(Source),
    /// The relay closed the WebSocket with this code.
    Closed(Option<u16>),
}

enum Command {
    /// A frame; `at` is its RTP time, or `None` for the next step of a fixed-rate clock.
    Send {
        source: Source,
        data: Vec<u8>,
        at: Option<u32>,
    },
    RequestKeyframe {
        from: ParticipantId,
        source: Source,
    },
    Signal(ClientMessage),
    Raw(String),
    Offline(Duration),
    Close,
}

/// Closes a participant's WebSocket and peer from elsewhere ([`Participant::closer`]).
pub struct Closer(mpsc::UnboundedSender<Command>);

impl Closer {
    /// As [`Participant::close`].
    pub fn close(&self) {
        let _ = self.0.send(Command::Close);
    }
}

/// A participant: a str0m peer plus its WebSocket, driven by a task of its own.
pub struct Participant {
    pub id: ParticipantId,
    commands: mpsc::UnboundedSender<Command>,
    seen: mpsc::UnboundedReceiver<Seen>,
    /// Everything seen so far, in order.
    pub history: Vec<Seen>,
}

impl Participant {
    /// Joins `room` on `relay` with [`test_access`] and waits for the welcome.
    pub async fn join(relay: &Relay, room: &str) -> Participant {
        Self::join_with(relay, room, &test_access()).await
    }

    /// Joins `room` on `relay` presenting `access`, and waits for the welcome.
    pub async fn join_with(relay: &Relay, room: &str, access: &RoomAccess) -> Participant {
        let (ws, _) = tokio_tungstenite::connect_async(&ws_url(relay))
            .await
            .expect("WebSocket connects");
        Self::join_ws_over(ws, room, access, Transport::Udp).await
    }

    /// Joins `room` on `relay` with media over `transport`.
    pub async fn join_over(relay: &Relay, room: &str, transport: Transport) -> Participant {
        let (ws, _) = tokio_tungstenite::connect_async(&ws_url(relay))
            .await
            .expect("WebSocket connects");
        Self::join_ws_over(ws, room, &test_access(), transport).await
    }

    /// Joins `room` on the relay whose signaling URL is `url`.
    pub async fn join_url(url: &str, room: &str) -> Participant {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("WebSocket connects");
        Self::join_ws(ws, room).await
    }

    /// Joins `room` over a WebSocket already open on any stream (TLS, for instance).
    pub async fn join_ws<S>(ws: WebSocketStream<S>, room: &str) -> Participant
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self::join_ws_over(ws, room, &test_access(), Transport::Udp).await
    }

    async fn join_ws_over<S>(
        mut ws: WebSocketStream<S>,
        room: &str,
        access: &RoomAccess,
        transport: Transport,
    ) -> Participant
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let join = ClientMessage::Join {
            version: PROTOCOL_VERSION,
            room: RoomId::new(room).unwrap(),
            access: access.clone(),
        };
        ws.send(Message::Text(join.encode().into())).await.unwrap();
        let (commands, command_rx) = mpsc::unbounded_channel();
        let (seen_tx, seen) = mpsc::unbounded_channel();
        tokio::spawn(drive(ws, transport, command_rx, seen_tx));
        let mut participant = Participant {
            id: ParticipantId::new("unknown").unwrap(),
            commands,
            seen,
            history: Vec::new(),
        };
        let welcome = participant
            .wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Welcome { .. })))
            .await;
        if let Seen::Signal(ServerMessage::Welcome { you, .. }) = welcome {
            participant.id = you.clone();
        }
        participant
    }

    /// Sends a frame on one of our upstream slots.
    pub fn send_frame(&self, source: Source, data: Vec<u8>) {
        let _ = self.commands.send(Command::Send {
            source,
            data,
            at: None,
        });
    }

    /// Asks the relay for a keyframe (PLI) on the line forwarding `from`'s `source` to us, as a
    /// browser does when it cannot decode.
    pub fn request_keyframe(&self, from: &ParticipantId, source: Source) {
        let _ = self.commands.send(Command::RequestKeyframe {
            from: from.clone(),
            source,
        });
    }

    /// A handle that sends frames for this participant from elsewhere (e.g. a filler task).
    pub fn frame_sender(&self) -> FrameSender {
        FrameSender(self.commands.clone())
    }

    /// Sends a raw protocol message.
    pub fn signal(&self, message: ClientMessage) {
        let _ = self.commands.send(Command::Signal(message));
    }

    /// Sends `text` as it is: for messages the protocol crate would not make.
    pub fn signal_raw(&self, text: String) {
        let _ = self.commands.send(Command::Raw(text));
    }

    /// Cuts the participant's media path for `outage`: nothing goes out, nothing comes in, as
    /// when a laptop's Wi-Fi drops. The WebSocket stays up.
    pub fn go_offline(&self, outage: Duration) {
        let _ = self.commands.send(Command::Offline(outage));
    }

    /// Closes the WebSocket and the peer.
    pub fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }

    /// A handle that closes this participant from elsewhere (its task owns the participant).
    pub fn closer(&self) -> Closer {
        Closer(self.commands.clone())
    }

    /// The next thing seen, not kept in [`Participant::history`]: for a long-running participant
    /// that reacts to events and would otherwise pile up every frame it receives. `None` once
    /// its task has stopped.
    pub async fn next(&mut self) -> Option<Seen> {
        self.seen.recv().await
    }

    /// Waits until something matching `want` is seen (looking at history first); returns a
    /// description of it. Panics after [`PATIENCE`].
    pub async fn wait_for(&mut self, want: impl Fn(&Seen) -> bool) -> &Seen {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        if let Some(index) = self.history.iter().position(&want) {
            return &self.history[index];
        }
        loop {
            match tokio::time::timeout_at(deadline, self.seen.recv()).await {
                Ok(Some(seen)) => {
                    let hit = want(&seen);
                    self.history.push(seen);
                    if hit {
                        return self.history.last().unwrap();
                    }
                }
                Ok(None) => panic!("participant {} stopped; saw {:?}", self.id, self.summary()),
                Err(_) => panic!(
                    "participant {} timed out; saw {:?}",
                    self.id,
                    self.summary()
                ),
            }
        }
    }

    /// Waits until the relay says `other` joined our room.
    pub async fn wait_for_joined(&mut self, other: &ParticipantId) {
        self.wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Joined { participant }) if participant == other))
            .await;
    }

    /// Takes everything seen so far without waiting.
    pub fn drain(&mut self) {
        while let Ok(seen) = self.seen.try_recv() {
            self.history.push(seen);
        }
    }

    /// Frames received from `from` on `source`, in order.
    pub fn frames(&self, from: &ParticipantId, source: Source) -> Vec<&[u8]> {
        self.history
            .iter()
            .filter_map(|seen| match seen {
                Seen::Frame {
                    from: f,
                    source: s,
                    data,
                    ..
                } if f == from && *s == source => Some(data.as_slice()),
                _ => None,
            })
            .collect()
    }

    /// The latest offer's media lines.
    pub fn lines(&self) -> Vec<MediaLine> {
        self.history
            .iter()
            .rev()
            .find_map(|seen| match seen {
                Seen::Signal(ServerMessage::Offer { lines, .. }) => Some(lines.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    fn summary(&self) -> Vec<String> {
        let mut summary: Vec<String> = Vec::new();
        let mut frames = 0;
        for seen in &self.history {
            match seen {
                Seen::Frame { .. } => frames += 1,
                Seen::Signal(ServerMessage::Offer { lines, .. }) => {
                    summary.push(format!("offer with {} lines", lines.len()))
                }
                other => summary.push(format!("{other:?}")),
            }
        }
        summary.push(format!("{frames} frames"));
        summary
    }
}

/// Sends frames on a participant's upstream slots.
#[derive(Clone)]
pub struct FrameSender(mpsc::UnboundedSender<Command>);

impl FrameSender {
    /// Like [`Participant::send_frame`].
    pub fn send_frame(&self, source: Source, data: Vec<u8>) {
        let _ = self.0.send(Command::Send {
            source,
            data,
            at: None,
        });
    }

    /// Sends a frame with RTP time `at` (90 kHz for video, 48 kHz for audio), for a sender
    /// whose frames are paced in real time: the receiver's jitter buffer reads the timestamps.
    /// [`FrameSender::send_frame`] instead steps the clock by 1/30 s (video) or 20 ms (audio) per
    /// frame, whatever the pace.
    pub fn send_frame_at(&self, source: Source, at: u32, data: Vec<u8>) {
        let _ = self.0.send(Command::Send {
            source,
            data,
            at: Some(at),
        });
    }
}

/// A participant's media path: where its packets go out, and what it puts in `Receive`.
enum Media {
    Udp(Arc<UdpSocket>),
    /// A TCP connection to the relay's passive candidate, and its address there.
    Tcp(OwnedWriteHalf, SocketAddr),
}

/// Packets received on a participant's media path, with their source.
type Incoming = mpsc::UnboundedSender<(Vec<u8>, SocketAddr)>;

impl Media {
    /// A UDP socket and a host candidate for it; received datagrams go to `incoming`.
    async fn udp(rtc: &mut Rtc, incoming: Incoming) -> (Media, SocketAddr) {
        Self::udp_at(rtc, std::net::Ipv4Addr::LOCALHOST.into(), incoming).await
    }

    /// [`Media::udp`] on address `ip` of this host.
    async fn udp_at(
        rtc: &mut Rtc,
        ip: std::net::IpAddr,
        incoming: Incoming,
    ) -> (Media, SocketAddr) {
        let socket = Arc::new(UdpSocket::bind((ip, 0)).await.unwrap());
        let local = socket.local_addr().unwrap();
        rtc.add_local_candidate(Candidate::host(local, "udp").unwrap());
        let reader = socket.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((len, source)) = reader.recv_from(&mut buf).await {
                if incoming.send((buf[..len].to_vec(), source)).is_err() {
                    return;
                }
            }
        });
        (Media::Udp(socket), local)
    }

    /// Connects to the passive TCP candidate of `offer` and adds a TCP candidate for the
    /// connection's own address; received packets go to `incoming`.
    async fn tcp(rtc: &mut Rtc, offer: &str, incoming: Incoming) -> (Media, SocketAddr) {
        let relay = passive_tcp_candidate(offer).expect("the relay offers a passive TCP candidate");
        let stream = TcpStream::connect(relay).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let local = stream.local_addr().unwrap();
        let candidate = Candidate::builder()
            .tcp()
            .host(local)
            .tcptype(TcpType::Active)
            .build()
            .unwrap();
        rtc.add_local_candidate(candidate);
        let (mut reader, writer) = stream.into_split();
        tokio::spawn(async move {
            while let Ok(Some(packet)) = veilig_relay::tcp::read_packet(&mut reader).await {
                if incoming.send((packet, relay)).is_err() {
                    return;
                }
            }
        });
        (Media::Tcp(writer, relay), local)
    }

    fn proto(&self) -> Protocol {
        match self {
            Media::Udp(_) => Protocol::Udp,
            Media::Tcp(..) => Protocol::Tcp,
        }
    }

    async fn send(&mut self, contents: &[u8], destination: SocketAddr) {
        match self {
            Media::Udp(socket) => {
                let _ = socket.send_to(contents, destination).await;
            }
            Media::Tcp(writer, relay) => {
                assert_eq!(
                    destination, *relay,
                    "only the relay's TCP candidate is used"
                );
                let mut framed = Vec::new();
                veilig_relay::tcp::frame(contents, &mut framed);
                let _ = writer.write_all(&framed).await;
            }
        }
    }
}

/// The address of the first passive TCP host candidate in an SDP.
pub fn passive_tcp_candidate(sdp: &str) -> Option<SocketAddr> {
    sdp.lines().find_map(|line| {
        let fields: Vec<&str> = line.strip_prefix("a=candidate:")?.split(' ').collect();
        let passive = fields.windows(2).any(|w| w == ["tcptype", "passive"]);
        if fields.get(2)?.eq_ignore_ascii_case("tcp") && passive {
            Some(SocketAddr::new(
                fields.get(4)?.parse().ok()?,
                fields.get(5)?.parse().ok()?,
            ))
        } else {
            None
        }
    })
}

/// The participant's task: answers offers, moves packets, sends and reports frames.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocketStream<S>,
    transport: Transport,
    mut commands: mpsc::UnboundedReceiver<Command>,
    seen: mpsc::UnboundedSender<Seen>,
) {
    let mut rtc = Rtc::builder()
        .clear_codecs()
        .enable_vp8(true)
        .enable_opus(true, false)
        .build(Instant::now());
    // Until when the media path is cut ([`Participant::go_offline`]).
    let mut offline_until = Instant::now();
    let (incoming_tx, mut incoming) = mpsc::unbounded_channel();
    // UDP from the start; TCP once the first offer says where to connect.
    let mut media = match transport {
        Transport::Udp => Some(Media::udp(&mut rtc, incoming_tx.clone()).await),
        Transport::Tcp => None,
    };
    let mut lines: HashMap<Mid, MediaLine> = HashMap::new();
    let mut rtp_time: HashMap<Source, u64> = HashMap::new();
    loop {
        // Drain the peer's output after every input.
        let wake;
        loop {
            match rtc.poll_output() {
                Ok(Output::Timeout(at)) => {
                    wake = at;
                    break;
                }
                Ok(Output::Transmit(t)) => {
                    if Instant::now() < offline_until {
                        continue;
                    }
                    if let Some((media, _)) = &mut media {
                        media.send(&t.contents, t.destination).await;
                    }
                }
                Ok(Output::Event(Event::Connected)) => {
                    let _ = seen.send(Seen::Connected);
                }
                Ok(Output::Event(Event::KeyframeRequest(request))) => {
                    if let Some(line) = lines.get(&request.mid) {
                        let _ = seen.send(Seen::KeyframeRequest(line.source));
                    }
                }
                Ok(Output::Event(Event::MediaData(data))) => {
                    if let Some(MediaLine {
                        from: Some(from),
                        source,
                        ..
                    }) = lines.get(&data.mid)
                    {
                        let _ = seen.send(Seen::Frame {
                            from: from.clone(),
                            source: *source,
                            data: data.data.to_vec(),
                            at: Instant::now(),
                        });
                    }
                }
                Ok(Output::Event(_)) => {}
                Err(error) => panic!("client session failed: {error}"),
            }
        }
        let sleep = wake
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        tokio::select! {
            message = ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let message = ServerMessage::decode(text.as_str()).expect("relay speaks the protocol");
                    if let ServerMessage::Offer { sdp, lines: offered } = &message {
                        if media.is_none() {
                            media = Some(Media::tcp(&mut rtc, sdp, incoming_tx.clone()).await);
                        }
                        let offer = str0m::change::SdpOffer::from_sdp_string(sdp).expect("offer parses");
                        let answer = rtc.sdp_api().accept_offer(offer).expect("offer accepted");
                        lines = offered.iter().map(|line| (line.mid.as_str().into(), line.clone())).collect();
                        let reply = ClientMessage::Answer { sdp: answer.to_sdp_string() };
                        let _ = ws.send(Message::Text(reply.encode().into())).await;
                    }
                    let _ = seen.send(Seen::Signal(message));
                }
                Some(Ok(Message::Close(frame))) => {
                    let _ = seen.send(Seen::Closed(frame.map(|f| u16::from(f.code))));
                    return;
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => {
                    let _ = seen.send(Seen::Closed(None));
                    return;
                }
            },
            Some((packet, source)) = incoming.recv() => {
                let Some((media, local)) = &media else { continue };
                if Instant::now() < offline_until {
                    continue;
                }
                let Ok(contents) = packet.as_slice().try_into() else { continue };
                let input = Input::Receive(Instant::now(), Receive { proto: media.proto(), source, destination: *local, contents });
                let _ = rtc.handle_input(input);
            }
            command = commands.recv() => match command {
                Some(Command::Send { source, data, at }) => {
                    let Some(mid) = lines.values().find(|l| l.from.is_none() && l.source == source).map(|l| Mid::from(l.mid.as_str())) else { continue };
                    let (codec, step, frequency) = match source {
                        Source::Microphone => (Codec::Opus, 960, Frequency::FORTY_EIGHT_KHZ),
                        _ => (Codec::Vp8, 3000, Frequency::NINETY_KHZ),
                    };
                    let Some(writer) = rtc.writer(mid) else { continue };
                    let Some(pt) = writer.payload_params().find(|p| p.spec().codec == codec).map(|p| p.pt()) else { continue };
                    let clock = rtp_time.entry(source).or_insert(0);
                    *clock = at.map_or(*clock + step, u64::from);
                    if let Err(error) = writer.write(pt, Instant::now(), MediaTime::new(*clock, frequency), data) {
                        panic!("write failed: {error}");
                    }
                }
                Some(Command::RequestKeyframe { from, source }) => {
                    let Some(mid) = lines.values().find(|l| l.from.as_ref() == Some(&from) && l.source == source).map(|l| Mid::from(l.mid.as_str())) else { continue };
                    let Some(mut writer) = rtc.writer(mid) else { continue };
                    if let Err(error) = writer.request_keyframe(None, KeyframeRequestKind::Pli) {
                        panic!("keyframe request failed: {error}");
                    }
                }
                Some(Command::Signal(message)) => { let _ = ws.send(Message::Text(message.encode().into())).await; }
                Some(Command::Raw(text)) => { let _ = ws.send(Message::Text(text.into())).await; }
                Some(Command::Offline(outage)) => offline_until = Instant::now() + outage,
                Some(Command::Close) | None => { let _ = ws.close(None).await; return; }
            },
            _ = tokio::time::sleep(sleep) => {
                let _ = rtc.handle_input(Input::Timeout(Instant::now()));
            }
        }
    }
}
