//! The same native participant in a Janus VideoRoom (Janus 1.x, its WebSocket API), so one load
//! benchmark drives both relays with the same clients: Janus's signaling here, media as real
//! WebRTC (str0m, DTLS-SRTP over UDP), the frames the load bench sends unchanged.
//!
//! What it does not do: trickle ICE (candidates travel in the SDP, `trickle: false`), simulcast,
//! data channels, or anything after a participant leaves. Janus needs two peer connections per
//! participant where Veilig's relay has one: a publisher (we offer, send-only audio and video)
//! and a multistream subscriber (Janus offers, and re-offers as publishers join).
//!
//! ```text
//!  test ── Participant (commands) ──► drive task ── WebSocket (janus-protocol) ──► Janus
//!   ▲                                   │  publisher  str0m ── UDP ──► Janus media
//!   └──────────── Seen (events) ────────┘  subscriber str0m ◄─ UDP ──┘
//! ```
//!
//! A participant's id is `j` and its publisher id; frames it receives name their sender that way.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use str0m::change::{SdpAnswer, SdpOffer};
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid};
use str0m::net::{Protocol, Receive};
use str0m::{Event, Input, Output, Rtc};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use veilig_protocol::{ParticipantId, Source};

use crate::{Command, Media, Participant, Seen, PATIENCE};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Janus drops a session after 60 s without a request.
const KEEPALIVE: Duration = Duration::from_secs(20);

/// Opens Janus's WebSocket API at `url` (`ws://host:port`), with its subprotocol.
async fn connect(url: &str) -> Ws {
    let mut request = url.into_client_request().expect("a WebSocket URL");
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "janus-protocol".parse().expect("a header value"),
    );
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("Janus's WebSocket connects");
    ws
}

/// A Janus session on one WebSocket: requests with transactions; whatever arrives while a
/// request waits for its answer is kept in `backlog` for the drive loop.
struct Session {
    ws: Ws,
    id: u64,
    next: u64,
    backlog: Vec<Value>,
}

impl Session {
    async fn open(url: &str) -> Session {
        let mut session = Session {
            ws: connect(url).await,
            id: 0,
            next: 0,
            backlog: Vec::new(),
        };
        let created = session.call(json!({ "janus": "create" })).await;
        session.id = created["data"]["id"].as_u64().expect("a session id");
        session
    }

    async fn attach(&mut self) -> u64 {
        let attached = self
            .call(json!({ "janus": "attach", "plugin": "janus.plugin.videoroom" }))
            .await;
        attached["data"]["id"].as_u64().expect("a handle id")
    }

    /// Sends `request` with a fresh transaction; returns the transaction.
    async fn send(&mut self, mut request: Value) -> String {
        self.next += 1;
        let transaction = format!("t{}", self.next);
        request["transaction"] = json!(transaction);
        if self.id != 0 {
            request["session_id"] = json!(self.id);
        }
        self.ws
            .send(Message::Text(request.to_string().into()))
            .await
            .expect("Janus's WebSocket takes the request");
        transaction
    }

    /// Sends `request` and waits for its answer (a `success`, `error` or plugin `event`; never
    /// the `ack`).
    async fn call(&mut self, request: Value) -> Value {
        let transaction = self.send(request).await;
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let message = tokio::time::timeout_at(deadline, self.ws.next())
                .await
                .expect("Janus answers in time");
            let Some(Ok(Message::Text(text))) = message else {
                continue;
            };
            let value: Value = serde_json::from_str(text.as_str()).expect("Janus sends JSON");
            if value["transaction"] == json!(transaction) && value["janus"] != "ack" {
                assert_ne!(value["janus"], "error", "Janus refused: {value}");
                return value;
            }
            self.backlog.push(value);
        }
    }

    /// A `message` to the VideoRoom plugin on `handle`.
    fn message(handle: u64, body: Value, jsep: Option<Value>) -> Value {
        let mut message = json!({ "janus": "message", "handle_id": handle, "body": body });
        if let Some(jsep) = jsep {
            message["jsep"] = jsep;
        }
        message
    }
}

/// Creates VideoRoom `room` on the Janus at `url` for up to `publishers` publishers, with no
/// bitrate cap and VP8 and Opus, as the load bench sends; a room that exists already is fine.
pub async fn create_room(url: &str, room: u64, publishers: usize) {
    let mut session = Session::open(url).await;
    let handle = session.attach().await;
    let body = json!({
        "request": "create", "room": room, "publishers": publishers, "bitrate": 0,
        "audiocodec": "opus", "videocodec": "vp8", "notify_joining": false,
    });
    let reply = session.call(Session::message(handle, body, None)).await;
    let data = &reply["plugindata"]["data"];
    assert!(
        data["videoroom"] == "created" || data["error_code"] == 427,
        "creating room {room}: {reply}"
    );
    let _ = session.ws.close(None).await;
}

fn rtc() -> Rtc {
    Rtc::builder()
        .clear_codecs()
        .enable_vp8(true)
        .enable_opus(true, false)
        .build(Instant::now())
}

fn jsep(kind: &str, sdp: String) -> Value {
    json!({ "type": kind, "sdp": sdp, "trickle": false })
}

/// Joins VideoRoom `room` on the Janus at `url` as a publisher of audio and video, and
/// subscribes to every other publisher there, now and later; media from address `ip` of this
/// host (Janus gathers no loopback candidates, so this is an address Janus has one on). Returns
/// once Janus has answered the publisher's offer.
pub async fn join(url: &str, room: u64, name: &str, ip: IpAddr) -> Participant {
    let mut session = Session::open(url).await;
    let publisher = session.attach().await;
    let subscriber = session.attach().await;

    let mut up = rtc();
    let (incoming_tx, incoming) = mpsc::unbounded_channel();
    let up_media = Media::udp_at(&mut up, ip, incoming_tx.clone()).await;
    let mut api = up.sdp_api();
    let audio = api.add_media(MediaKind::Audio, Direction::SendOnly, None, None, None);
    let video = api.add_media(MediaKind::Video, Direction::SendOnly, None, None, None);
    let (offer, pending) = api.apply().expect("an offer");
    let body = json!({
        "request": "joinandconfigure", "room": room, "ptype": "publisher", "display": name,
        "audio": true, "video": true,
    });
    let joined = session
        .call(Session::message(
            publisher,
            body,
            Some(jsep("offer", offer.to_sdp_string())),
        ))
        .await;
    let answer = joined["jsep"]["sdp"].as_str().expect("Janus answers");
    if std::env::var_os("VEILIG_JANUS_DEBUG").is_some() {
        eprintln!("offer:\n{}\nanswer:\n{answer}", offer.to_sdp_string());
    }
    up.sdp_api()
        .accept_answer(
            pending,
            SdpAnswer::from_sdp_string(answer).expect("the answer parses"),
        )
        .expect("the answer is accepted");
    let data = &joined["plugindata"]["data"];
    let me = data["id"].as_u64().expect("a publisher id");
    let mut feeds = Feeds {
        room,
        subscriber,
        private_id: data["private_id"].as_u64(),
        known: Vec::new(),
        asked: HashSet::new(),
        started: false,
        pending: false,
    };
    feeds.learn(data);

    let (commands, command_rx) = mpsc::unbounded_channel();
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let up = Peer {
        rtc: up,
        media: up_media,
    };
    let (incoming_down_tx, incoming_down) = mpsc::unbounded_channel();
    let mut down_rtc = rtc();
    let down_media = Media::udp_at(&mut down_rtc, ip, incoming_down_tx).await;
    let down = Peer {
        rtc: down_rtc,
        media: down_media,
    };
    let sends = HashMap::from([(Source::Microphone, audio), (Source::Camera, video)]);
    tokio::spawn(drive(
        session,
        Peers { up, down, sends },
        feeds,
        (incoming, incoming_down),
        command_rx,
        seen_tx,
    ));
    Participant {
        id: ParticipantId::new(&format!("j{me}")).expect("an alphanumeric id"),
        commands,
        seen,
        history: Vec::new(),
    }
}

/// The publishers we know of and what the subscriber has asked Janus for.
struct Feeds {
    room: u64,
    subscriber: u64,
    private_id: Option<u64>,
    known: Vec<u64>,
    asked: HashSet<u64>,
    /// The subscriber has joined (later feeds are added with `subscribe`).
    started: bool,
    /// Janus owes us an offer: ask for nothing more until it comes.
    pending: bool,
}

impl Feeds {
    /// Takes the publishers listed in a VideoRoom event (`joined`, or `event` with `publishers`).
    fn learn(&mut self, data: &Value) {
        for publisher in data["publishers"].as_array().into_iter().flatten() {
            if let Some(id) = publisher["id"].as_u64() {
                if !self.known.contains(&id) {
                    self.known.push(id);
                }
            }
        }
    }

    /// The request that subscribes to the feeds not asked for yet, if any and none is pending.
    fn next_request(&mut self) -> Option<Value> {
        if self.pending {
            return None;
        }
        let new: Vec<u64> = self
            .known
            .iter()
            .copied()
            .filter(|id| !self.asked.contains(id))
            .collect();
        if new.is_empty() {
            return None;
        }
        self.asked.extend(&new);
        self.pending = true;
        let streams: Vec<Value> = new.iter().map(|feed| json!({ "feed": feed })).collect();
        let body = if self.started {
            json!({ "request": "subscribe", "streams": streams })
        } else {
            self.started = true;
            json!({
                "request": "join", "ptype": "subscriber", "room": self.room,
                "streams": streams, "private_id": self.private_id,
            })
        };
        Some(Session::message(self.subscriber, body, None))
    }
}

/// A str0m peer and its UDP socket (the address a `Receive` names as its destination).
struct Peer {
    rtc: Rtc,
    media: (Media, SocketAddr),
}

struct Peers {
    up: Peer,
    down: Peer,
    /// Our send-only lines.
    sends: HashMap<Source, Mid>,
}

type Incoming = mpsc::UnboundedReceiver<(Vec<u8>, SocketAddr)>;

/// Drains `peer`'s output; returns when it next wants a timeout.
async fn poll(
    peer: &mut Peer,
    lines: &HashMap<Mid, (u64, Source)>,
    seen: &mpsc::UnboundedSender<Seen>,
) -> Instant {
    loop {
        match peer.rtc.poll_output() {
            Ok(Output::Timeout(at)) => return at,
            Ok(Output::Transmit(t)) => peer.media.0.send(&t.contents, t.destination).await,
            Ok(Output::Event(Event::Connected)) => {
                let _ = seen.send(Seen::Connected);
            }
            Ok(Output::Event(Event::MediaData(data))) => {
                if let Some((feed, source)) = lines.get(&data.mid) {
                    let _ = seen.send(Seen::Frame {
                        from: ParticipantId::new(&format!("j{feed}")).expect("alphanumeric"),
                        source: *source,
                        data: data.data.to_vec(),
                        at: Instant::now(),
                    });
                }
            }
            Ok(Output::Event(_)) => {}
            Err(error) => panic!("Janus client session failed: {error}"),
        }
    }
}

fn receive(peer: &mut Peer, packet: Vec<u8>, source: SocketAddr) {
    let Ok(contents) = packet.as_slice().try_into() else {
        return;
    };
    let input = Input::Receive(
        Instant::now(),
        Receive {
            proto: Protocol::Udp,
            source,
            destination: peer.media.1,
            contents,
        },
    );
    let _ = peer.rtc.handle_input(input);
}

/// The participant's task: Janus's events, both peers' packets, the test's commands.
async fn drive(
    mut session: Session,
    mut peers: Peers,
    mut feeds: Feeds,
    (mut incoming_up, mut incoming_down): (Incoming, Incoming),
    mut commands: mpsc::UnboundedReceiver<Command>,
    seen: mpsc::UnboundedSender<Seen>,
) {
    // The subscriber's lines: mid → (publisher id, source).
    let mut lines: HashMap<Mid, (u64, Source)> = HashMap::new();
    let mut rtp_time: HashMap<Source, u64> = HashMap::new();
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    let mut backlog = std::mem::take(&mut session.backlog);
    loop {
        for event in backlog.drain(..) {
            let data = &event["plugindata"]["data"];
            if event["sender"].as_u64() != Some(feeds.subscriber) {
                feeds.learn(data);
                continue;
            }
            if let Some(offer) = event["jsep"]["sdp"].as_str() {
                lines = subscriber_lines(data, &lines);
                let offer = SdpOffer::from_sdp_string(offer).expect("Janus's offer parses");
                let answer = peers
                    .down
                    .rtc
                    .sdp_api()
                    .accept_offer(offer)
                    .expect("Janus's offer is accepted");
                let start = Session::message(
                    feeds.subscriber,
                    json!({ "request": "start" }),
                    Some(jsep("answer", answer.to_sdp_string())),
                );
                session.send(start).await;
                feeds.pending = false;
            } else if data["videoroom"] == "updated" || data["error_code"].is_u64() {
                // Nothing to negotiate, or refused: ask again for what is still missing.
                feeds.pending = false;
            }
        }
        if let Some(request) = feeds.next_request() {
            session.send(request).await;
        }
        let wake = poll(&mut peers.up, &lines, &seen)
            .await
            .min(poll(&mut peers.down, &lines, &seen).await);
        let sleep = wake
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(100));
        tokio::select! {
            message = session.ws.next() => match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(text.as_str()).expect("Janus sends JSON");
                    backlog.push(value);
                }
                Some(Ok(_)) => {}
                None | Some(Err(_)) => {
                    let _ = seen.send(Seen::Closed(None));
                    return;
                }
            },
            Some((packet, source)) = incoming_up.recv() => receive(&mut peers.up, packet, source),
            Some((packet, source)) = incoming_down.recv() => receive(&mut peers.down, packet, source),
            command = commands.recv() => match command {
                Some(Command::Send { source, data, at }) => {
                    let Some(&mid) = peers.sends.get(&source) else { continue };
                    let (codec, step, frequency) = match source {
                        Source::Microphone => (Codec::Opus, 960, Frequency::FORTY_EIGHT_KHZ),
                        _ => (Codec::Vp8, 3000, Frequency::NINETY_KHZ),
                    };
                    let Some(writer) = peers.up.rtc.writer(mid) else { continue };
                    let Some(pt) = writer.payload_params().find(|p| p.spec().codec == codec).map(|p| p.pt()) else { continue };
                    let clock = rtp_time.entry(source).or_insert(0);
                    *clock = at.map_or(*clock + step, u64::from);
                    if let Err(error) = writer.write(pt, Instant::now(), MediaTime::new(*clock, frequency), data) {
                        panic!("write failed: {error}");
                    }
                }
                Some(Command::Close) | None => {
                    let _ = session.ws.close(None).await;
                    return;
                }
                Some(_) => {}
            },
            _ = keepalive.tick() => {
                session.send(json!({ "janus": "keepalive" })).await;
            }
            _ = tokio::time::sleep(sleep) => {
                let now = Instant::now();
                let _ = peers.up.rtc.handle_input(Input::Timeout(now));
                let _ = peers.down.rtc.handle_input(Input::Timeout(now));
            }
        }
    }
}

/// The subscriber's lines from an `attached` or `updated` event's `streams` (each with `mid`,
/// `feed_id` and `type`); keeps `before` if the event lists none.
fn subscriber_lines(
    data: &Value,
    before: &HashMap<Mid, (u64, Source)>,
) -> HashMap<Mid, (u64, Source)> {
    let Some(streams) = data["streams"].as_array() else {
        return before.clone();
    };
    streams
        .iter()
        .filter_map(|stream| {
            let mid = stream["mid"].as_str()?;
            let feed = stream["feed_id"].as_u64()?;
            let source = match stream["type"].as_str()? {
                "audio" => Source::Microphone,
                "video" => Source::Camera,
                _ => return None,
            };
            Some((Mid::from(mid), (feed, source)))
        })
        .collect()
}
