//! A call, from joining to leaving: the signaling socket, the peer connection, the frame-crypto
//! worker and the encrypted notes, driven by the relay's messages, with reconnection.
//!
//! The UI holds a [`Call`] and hears [`CallEvent`]s; it never touches the socket or the peer
//! connection. A lost connection (network, relay restart, a retryable error from the relay) is
//! retried with backoff: 1, 2, 4, 8, then every 10 seconds, each time with a fresh worker, peer
//! connection and KIDs, since the relay sees a new participant anyway. Chat typed meanwhile is
//! queued and sent once back in.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use veilig_e2ee::RoomKeys;
use veilig_protocol::{
    ClientMessage, ErrorCode, ParticipantId, RoomAccess, RoomId, ServerMessage, Source,
    PROTOCOL_VERSION,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::RtcPeerConnectionState;

mod group;

pub use crate::call::events::{CallEvent, Decryption, Failure, Reception, Status};
use crate::call::health;
use crate::call::media::{open_devices, Device, LocalMedia, MediaError};
use crate::call::metadata::{MediaKids, MAX_CHAT_CHARS};
use crate::call::peer::{sleep, slot_source, Peer, PeerError};
use crate::call::roster::{Heard, Me, Roster};
use crate::call::signaling::{self, Signaling, SignalingEvent};
use crate::encryption::{AttachPath, FrameCrypto, WarmWorker, WorkerStats, WORKER_URL};
use crate::frame_crypto::messages::Direction;
use crate::frame_crypto::webcrypto::random_u64;
use crate::timeline::{self, Milestone};

/// Everything the call needs to start.
pub struct CallConfig {
    /// The room id.
    pub room: String,
    /// Keys derived from the link (and passphrase).
    pub keys: RoomKeys,
    /// Display name (may be empty).
    pub name: String,
    /// How to attach encryption.
    pub path: AttachPath,
    /// `auto`, `wasm` or `webcrypto`.
    pub engine: String,
    /// The microphone chosen in the lobby, opened again when it is turned on later.
    pub microphone: Device,
    /// The camera chosen in the lobby, likewise.
    pub camera: Device,
    /// Whether the meeting's frame keys come from its MLS group ([`super::group`]) instead of
    /// the link.
    pub mls: bool,
}

struct State {
    config: CallConfig,
    /// A worker started ahead of the call, for the first connection only.
    warm: Option<WarmWorker>,
    local: LocalMedia,
    /// The shared screen, if any.
    screen: Option<web_sys::MediaStreamTrack>,
    _screen_ended: Option<Closure<dyn FnMut()>>,
    mic: bool,
    camera: bool,
    on_event: Rc<dyn Fn(CallEvent)>,
    crypto: Option<Rc<FrameCrypto>>,
    peer: Option<Rc<Peer>>,
    signaling: Option<Signaling>,
    /// Who is in the meeting and what they said; our notes (see [`Roster`]).
    roster: Roster,
    attempt: u32,
    ended: bool,
    /// Per remote transform: (decrypted, bad tags) at the previous report.
    last_counts: HashMap<u32, health::Counted>,
    _ping: Option<Closure<dyn FnMut()>>,
    ping_timer: Option<i32>,
    /// Remote track id → (participant, is audio), for reading the browser's statistics.
    tracks: HashMap<String, (ParticipantId, bool)>,
}

/// A running call.
#[derive(Clone)]
pub struct Call {
    state: Rc<RefCell<State>>,
}

impl PartialEq for Call {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.state, &other.state)
    }
}

fn emit(state: &Rc<RefCell<State>>, event: CallEvent) {
    let on_event = state.borrow().on_event.clone();
    on_event(event);
}

impl Call {
    /// Starts a call with `local` media (either track may be absent). The first connection
    /// uses `warm`, a worker started ahead, if it is for the same path.
    pub fn start(
        config: CallConfig,
        local: LocalMedia,
        warm: Option<WarmWorker>,
        on_event: Rc<dyn Fn(CallEvent)>,
    ) -> Call {
        timeline::mark(Milestone::CallStarted);
        let warm = warm.filter(|warm| warm.path() == config.path);
        let state = Rc::new(RefCell::new(State {
            warm,
            mic: local.audio.is_some(),
            camera: local.video.is_some(),
            config,
            local,
            screen: None,
            _screen_ended: None,
            on_event,
            crypto: None,
            peer: None,
            signaling: None,
            roster: Roster::default(),
            attempt: 0,
            ended: false,
            last_counts: HashMap::new(),
            _ping: None,
            ping_timer: None,
            tracks: HashMap::new(),
        }));
        let own_video = state.borrow().local.video.clone();
        let call = Call { state };
        emit(&call.state, CallEvent::LocalVideo(own_video));
        call.start_pinging();
        call.connect();
        call
    }

    fn start_pinging(&self) {
        let weak = Rc::downgrade(&self.state);
        let mut ticks = 0u32;
        let ping = Closure::<dyn FnMut()>::new(move || {
            let Some(state) = weak.upgrade() else { return };
            ticks += 1;
            // Every 15 s a ping keeps the relay's idle timeout away.
            if ticks % 15 == 0 {
                if let Some(signaling) = &state.borrow().signaling {
                    signaling.send(&ClientMessage::Ping);
                }
            }
            // Chat held for a participant who never greeted us goes after a while.
            let held = state.borrow_mut().roster.tick(now());
            send_all(&state, held);
            poll_reception(&state);
        });
        let timer = web_sys::window().and_then(|w| {
            w.set_interval_with_callback_and_timeout_and_arguments_0(
                ping.as_ref().unchecked_ref(),
                1_000,
            )
            .ok()
        });
        let mut state = self.state.borrow_mut();
        state._ping = Some(ping);
        state.ping_timer = timer;
    }

    /// (Re)connects: fresh worker, peer connection and socket.
    fn connect(&self) {
        emit(&self.state, CallEvent::Status(Status::Connecting));
        let weak = Rc::downgrade(&self.state);
        wasm_bindgen_futures::spawn_local(async move {
            let Some(state) = weak.upgrade() else { return };
            let (path, engine, key, mls) = {
                let s = state.borrow();
                (
                    s.config.path,
                    s.config.engine.clone(),
                    s.config.keys.media.as_bytes().to_vec(),
                    s.config.mls,
                )
            };
            let warm = state.borrow_mut().warm.take();
            let started = match warm {
                Some(warm) => warm.take().await,
                None => FrameCrypto::start(WORKER_URL, path).await,
            };
            let crypto = match started {
                Ok(crypto) => Rc::new(crypto),
                Err(_) => return fail(&state, Failure::Encryption),
            };
            if mls {
                // No key until the group's first epoch: the group starts at the relay's welcome.
                let weak = Rc::downgrade(&state);
                crypto.on_group(Box::new(move |event| {
                    if let Some(state) = weak.upgrade() {
                        group::on_group_event(&state, event);
                    }
                }));
            } else if crypto.set_key_announced_only(&key, &engine).is_err() {
                return fail(&state, Failure::Encryption);
            }
            // Our tracks' KIDs for this connection, announced in our presence notes.
            let (Ok(microphone), Ok(camera), Ok(screen)) =
                (random_u64(), random_u64(), random_u64())
            else {
                return fail(&state, Failure::Encryption);
            };
            let kids = MediaKids {
                microphone,
                camera,
                screen,
            };
            timeline::mark(Milestone::WorkerReady);
            {
                let weak = Rc::downgrade(&state);
                crypto.on_stats(Box::new(move |stats: &WorkerStats| {
                    if let Some(state) = weak.upgrade() {
                        report_decryption(&state, stats);
                    }
                }));
            }
            let peer = {
                let weak = Rc::downgrade(&state);
                let on_state = Rc::new(move |pc_state: RtcPeerConnectionState| {
                    if let Some(state) = weak.upgrade() {
                        on_peer_state(&state, pc_state);
                    }
                });
                match Peer::new(crypto.clone(), kids, on_state) {
                    Ok(peer) => Rc::new(peer),
                    Err(_) => return fail(&state, Failure::Encryption),
                }
            };
            {
                let s = state.borrow();
                peer.set_local(Source::Microphone, s.local.audio.clone());
                peer.set_local(Source::Camera, s.local.video.clone());
                peer.set_local(Source::Screen, s.screen.clone());
            }
            let handler = {
                let weak = Rc::downgrade(&state);
                Rc::new(move |event: SignalingEvent| {
                    if let Some(state) = weak.upgrade() {
                        on_signaling(&state, event);
                    }
                })
            };
            let Some(url) = signaling::url_for_page() else {
                return fail(&state, Failure::Refused);
            };
            let socket = match Signaling::connect(&url, handler) {
                Ok(socket) => socket,
                Err(_) => return schedule_reconnect(&state),
            };
            let (Ok(kid), Ok(session)) = (random_u64(), random_u64()) else {
                return fail(&state, Failure::Encryption);
            };
            let mut s = state.borrow_mut();
            // Everyone gets a new participant id on joining again, so notes start afresh too:
            // a new KID and session for ours, no memory of the old ids.
            let State { roster, config, .. } = &mut *s;
            roster.connect(&config.room, &config.keys.metadata, kid, session, kids);
            s.crypto = Some(crypto);
            s.peer = Some(peer);
            s.signaling = Some(socket);
            s.last_counts.clear();
        });
    }

    /// Sends a chat message (queued while reconnecting). Returns false if it is too long.
    pub fn send_chat(&self, text: &str) -> bool {
        let text = text.trim();
        if text.is_empty() || text.chars().count() > MAX_CHAT_CHARS {
            return false;
        }
        let out = self.state.borrow_mut().roster.chat(text.into(), now());
        send_all(&self.state, out);
        emit(
            &self.state,
            CallEvent::Chat {
                from: None,
                text: text.into(),
            },
        );
        true
    }

    /// Turns the microphone on or off. Off keeps the track but sends silence (still
    /// encrypted); on when there is no track (joined muted, listen-only) asks for one.
    pub fn set_mic(&self, on: bool) {
        if on && self.state.borrow().local.audio.is_none() {
            return self.open_local(Source::Microphone, true);
        }
        self.state.borrow_mut().mic = on;
        self.apply_local();
    }

    /// Turns the camera on or off. Off releases the camera (its light goes out) and sends
    /// nothing; on asks for it again.
    pub fn set_camera(&self, on: bool) {
        if on {
            return self.open_local(Source::Camera, true);
        }
        let track = {
            let mut s = self.state.borrow_mut();
            s.camera = false;
            if let Some(peer) = &s.peer {
                peer.set_local(Source::Camera, None);
            }
            s.local.video.take()
        };
        if let Some(track) = track {
            track.stop();
        }
        emit(&self.state, CallEvent::LocalVideo(None));
        send_presence(&self.state);
        emit(&self.state, CallEvent::LocalChanged);
    }

    /// Uses `device` for the microphone or camera from now on. If that kind is open, the new
    /// device takes its place on the same protected sender at once (`replaceTrack` through
    /// [`Peer::set_local`]: no renegotiation), muted if the microphone was muted, and the old
    /// one is stopped; if it is off, the device is used when it is turned on.
    pub fn use_device(&self, source: Source, device: Device) {
        let open = {
            let mut s = self.state.borrow_mut();
            match source {
                Source::Microphone => {
                    s.config.microphone = device;
                    s.local.audio.is_some()
                }
                Source::Camera => {
                    s.config.camera = device;
                    s.local.video.is_some()
                }
                Source::Screen => false,
            }
        };
        if open {
            self.open_local(source, false);
        }
    }

    /// The microphone and camera tracks in use (either may be absent), to show which devices
    /// they come from.
    pub fn local_media(&self) -> LocalMedia {
        self.state.borrow().local.clone()
    }

    /// Opens the chosen microphone or camera and sends it: `turn_on` turns it on, else it
    /// replaces the open one and keeps its state (a muted microphone stays muted). A refusal
    /// leaves it as it was and says so ([`CallEvent::DeviceRefused`]).
    fn open_local(&self, source: Source, turn_on: bool) {
        let call = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let (mic, camera) = {
                let s = call.state.borrow();
                match source {
                    Source::Microphone => (s.config.microphone.clone(), Device::Off),
                    _ => (Device::Off, s.config.camera.clone()),
                }
            };
            let chosen_device = matches!(mic, Device::Id(_)) || matches!(camera, Device::Id(_));
            let opened = match open_devices(&mic, &camera).await {
                // The device chosen in the lobby was unplugged since: the default will do.
                Err(MediaError::NotFound) if chosen_device => {
                    let fallback = |d: &Device| match d {
                        Device::Off => Device::Off,
                        _ => Device::Default,
                    };
                    open_devices(&fallback(&mic), &fallback(&camera)).await
                }
                other => other,
            };
            let track = match (opened, source) {
                (Ok(media), Source::Microphone) => media.audio,
                (Ok(media), _) => media.video,
                (Err(error), _) => {
                    emit(&call.state, CallEvent::DeviceRefused(error));
                    return;
                }
            };
            let Some(track) = track else { return };
            {
                let mut s = call.state.borrow_mut();
                if s.ended {
                    track.stop();
                    return;
                }
                if turn_on {
                    match source {
                        Source::Microphone => s.mic = true,
                        _ => s.camera = true,
                    }
                }
                if source == Source::Microphone {
                    track.set_enabled(s.mic);
                }
                let slot = match source {
                    Source::Microphone => &mut s.local.audio,
                    _ => &mut s.local.video,
                };
                // Turned off while the new device opened: it stays off.
                if !turn_on && slot.is_none() {
                    track.stop();
                    return;
                }
                if let Some(old) = slot.replace(Clone::clone(&track)) {
                    old.stop();
                }
                if let Some(peer) = &s.peer {
                    peer.set_local(source, Some(Clone::clone(&track)));
                }
            }
            if source == Source::Camera {
                emit(&call.state, CallEvent::LocalVideo(Some(track)));
            }
            send_presence(&call.state);
            emit(&call.state, CallEvent::LocalChanged);
        });
    }

    /// Shares `track` as our screen, or stops sharing. A share the user ends from the browser's
    /// own controls stops here too.
    pub fn set_screen(&self, track: Option<web_sys::MediaStreamTrack>) {
        let ended = track.as_ref().map(|track| {
            let call = self.clone();
            let closure = Closure::<dyn FnMut()>::new(move || call.set_screen(None));
            track.set_onended(Some(closure.as_ref().unchecked_ref()));
            closure
        });
        let previous = {
            let mut s = self.state.borrow_mut();
            let previous = std::mem::replace(&mut s.screen, track.clone());
            s._screen_ended = ended;
            if let Some(peer) = &s.peer {
                peer.set_local(Source::Screen, track);
            }
            previous
        };
        if let Some(previous) = previous {
            previous.set_onended(None);
            previous.stop();
        }
        send_presence(&self.state);
        emit(&self.state, CallEvent::LocalChanged);
    }

    /// Changes our display name mid-call: everyone gets a fresh presence note with it (the
    /// name travels only inside notes, sealed with the metadata key). `name` is used as
    /// given; callers trim and cut it as the lobby does.
    pub fn set_name(&self, name: &str) {
        self.state.borrow_mut().config.name = name.to_owned();
        send_presence(&self.state);
        emit(&self.state, CallEvent::LocalChanged);
    }

    /// Our display name (may be empty).
    pub fn name(&self) -> String {
        self.state.borrow().config.name.clone()
    }

    /// Whether we share a screen.
    pub fn sharing_screen(&self) -> bool {
        self.state.borrow().screen.is_some()
    }

    /// Whether microphone and camera are on.
    pub fn local_state(&self) -> (bool, bool) {
        let s = self.state.borrow();
        (
            s.mic && s.local.audio.is_some(),
            s.camera && s.local.video.is_some(),
        )
    }

    fn apply_local(&self) {
        let s = self.state.borrow();
        if let Some(audio) = &s.local.audio {
            audio.set_enabled(s.mic);
        }
        drop(s);
        send_presence(&self.state);
        emit(&self.state, CallEvent::LocalChanged);
    }

    /// Leaves: tells the relay, closes everything, turns the camera off.
    pub fn leave(&self) {
        self.end(true);
    }

    /// Ends a call that the relay refused at the door (a mistyped passphrase), like
    /// [`Call::leave`] but leaving the camera and microphone open: the lobby still shows them
    /// and joins again with them once the passphrase is typed again.
    pub fn abandon(&self) {
        self.end(false);
    }

    fn end(&self, release_devices: bool) {
        let mut s = self.state.borrow_mut();
        s.ended = true;
        if let Some(signaling) = s.signaling.take() {
            signaling.send(&ClientMessage::Leave);
            signaling.close();
        }
        if let Some(peer) = s.peer.take() {
            peer.close();
        }
        s.crypto = None;
        if release_devices {
            s.local.stop();
        }
        if let Some(screen) = s.screen.take() {
            screen.set_onended(None);
            screen.stop();
        }
        if let (Some(window), Some(timer)) = (web_sys::window(), s.ping_timer.take()) {
            window.clear_interval_with_handle(timer);
        }
        drop(s);
        emit(&self.state, CallEvent::Status(Status::Ended));
    }
}

/// Tells the worker what each remote line may carry, as its labelled owner announced it (see
/// [`Announcements::to_tell`]): frames under any other KID are dropped as `unannounced`.
fn tell_announced(state: &Rc<RefCell<State>>) {
    let mut s = state.borrow_mut();
    let (Some(peer), Some(crypto)) = (s.peer.clone(), s.crypto.clone()) else {
        return;
    };
    let lines = peer.remote_lines();
    if s.config.mls {
        // In an MLS meeting a line opens only its labelled owner's frames: the KIDs say who
        // sent them, and the group says which member joined as whom.
        for (id, from, _) in &lines {
            crypto.bind_owner(*id, from.as_str());
        }
        return;
    }
    for (id, told) in s.roster.to_tell(&lines) {
        crypto.announce(id, &[told]);
    }
}

/// Milliseconds since the Unix epoch, by this device's clock (for the notes' time).
fn now() -> u64 {
    js_sys::Date::now() as u64
}

fn fail(state: &Rc<RefCell<State>>, failure: Failure) {
    state.borrow_mut().ended = true;
    emit(state, CallEvent::Status(Status::Failed(failure)));
}

/// Stops the call at once because the relay misbehaved: no more media leaves or arrives, the
/// camera and microphone are released, and no reconnect is tried (the same relay would be
/// asked again). The UI says so in plain words.
fn fail_closed(state: &Rc<RefCell<State>>) {
    {
        let mut s = state.borrow_mut();
        s.ended = true;
        if let Some(peer) = s.peer.take() {
            peer.close();
        }
        if let Some(signaling) = s.signaling.take() {
            signaling.close();
        }
        s.crypto = None;
        s.roster.disconnect();
        s.local.stop();
        if let Some(screen) = s.screen.take() {
            screen.set_onended(None);
            screen.stop();
        }
    }
    emit(state, CallEvent::LocalVideo(None));
    emit(
        state,
        CallEvent::Status(Status::Failed(Failure::ServerMisbehaved)),
    );
}

/// What we say about ourselves now.
fn me(s: &State) -> Me {
    Me {
        name: s.config.name.clone(),
        mic: s.mic && s.local.audio.is_some(),
        camera: s.camera && s.local.video.is_some(),
        screen: s.screen.is_some(),
    }
}

/// Sends `messages` to the relay, if connected.
fn send_all(state: &Rc<RefCell<State>>, messages: Vec<ClientMessage>) {
    if let Some(signaling) = &state.borrow().signaling {
        for message in &messages {
            signaling.send(message);
        }
    }
}

/// Our presence, after a change, to everyone (before joining there is nobody to tell: the
/// welcome sends it).
fn send_presence(state: &Rc<RefCell<State>>) {
    let out = {
        let mut s = state.borrow_mut();
        let me = me(&s);
        s.roster.presence(&me, now())
    };
    send_all(state, out.into_iter().collect());
}

fn on_signaling(state: &Rc<RefCell<State>>, event: SignalingEvent) {
    match event {
        SignalingEvent::Open => {
            timeline::mark(Milestone::SignalingOpen);
            let room = state.borrow().config.room.clone();
            let Ok(room) = RoomId::new(&room) else {
                return fail(state, Failure::Refused);
            };
            // What shows the relay we hold the link (see `RoomKeys::access`).
            let access = state.borrow().config.keys.access.to_text();
            let Ok(access) = RoomAccess::new(&access) else {
                return fail(state, Failure::Refused);
            };
            if let Some(signaling) = &state.borrow().signaling {
                signaling.send(&ClientMessage::Join {
                    version: PROTOCOL_VERSION,
                    room,
                    access,
                });
            }
        }
        SignalingEvent::Message(message) => on_message(state, message),
        SignalingEvent::Garbled => {
            if let Some(signaling) = state.borrow_mut().signaling.take() {
                signaling.close();
            }
            schedule_reconnect(state);
        }
        SignalingEvent::Closed(code) => {
            let failure = match code {
                4403 => Some(Failure::RoomFull),
                4401 => Some(Failure::AccessDenied),
                4426 => Some(Failure::Version),
                4400 | 4409 | 4413 | 4422 | 4429 => Some(Failure::Refused),
                _ => None,
            };
            {
                let mut s = state.borrow_mut();
                s.signaling = None;
                s.roster.disconnect();
                if let Some(peer) = s.peer.take() {
                    peer.close();
                }
                s.crypto = None;
            }
            match failure {
                Some(failure) => fail(state, failure),
                None => schedule_reconnect(state),
            }
        }
    }
}

fn on_message(state: &Rc<RefCell<State>>, message: ServerMessage) {
    match message {
        ServerMessage::Welcome {
            you,
            participants,
            ice_servers,
            ..
        } => {
            timeline::mark(Milestone::Welcomed);
            if let Some(peer) = &state.borrow().peer {
                peer.use_ice_servers(&ice_servers);
                peer.set_you(you.clone());
            }
            group::start(state, &you, participants.is_empty());
            // Our greeting, and any chat that waited.
            let out = {
                let mut s = state.borrow_mut();
                s.attempt = 0;
                let me = me(&s);
                s.roster
                    .welcome(you.clone(), participants.clone(), &me, now())
            };
            emit(state, CallEvent::You(you));
            budget_camera(state);
            emit(state, CallEvent::Participants(participants));
            send_all(state, out);
        }
        ServerMessage::Offer { sdp, lines } => {
            timeline::mark(Milestone::OfferReceived);
            let Some(peer) = state.borrow().peer.clone() else {
                return;
            };
            let weak: Weak<RefCell<State>> = Rc::downgrade(state);
            wasm_bindgen_futures::spawn_local(async move {
                let result = peer.answer(&sdp, lines).await;
                let Some(state) = weak.upgrade() else { return };
                match result {
                    Ok((answer, tracks)) => {
                        if let Some(signaling) = &state.borrow().signaling {
                            signaling.send(&ClientMessage::Answer { sdp: answer });
                        }
                        timeline::mark(Milestone::AnswerSent);
                        state.borrow_mut().tracks = tracks
                            .iter()
                            .map(|t| (t.track.id(), (t.from.clone(), t.track.kind() == "audio")))
                            .collect();
                        emit(&state, CallEvent::Tracks(tracks));
                        tell_announced(&state);
                    }
                    Err(PeerError::Refused(refusal)) => {
                        web_sys::console::warn_1(
                            &format!("Veilig: the call was stopped: {refusal}").into(),
                        );
                        fail_closed(&state);
                    }
                    Err(_) => fail(&state, Failure::Encryption),
                }
            });
        }
        ServerMessage::Joined { participant } => {
            // They greet us; our answer goes then.
            let (list, out) = {
                let mut s = state.borrow_mut();
                let out = s.roster.arrived(participant, now());
                (s.roster.participants().to_vec(), out)
            };
            budget_camera(state);
            emit(state, CallEvent::Participants(list));
            send_all(state, out);
        }
        ServerMessage::Left { participant } => {
            group::left(state, &participant);
            let list = {
                let mut s = state.borrow_mut();
                s.roster.left(&participant);
                s.roster.participants().to_vec()
            };
            budget_camera(state);
            emit(state, CallEvent::Participants(list));
        }
        ServerMessage::Blob { from, data } => {
            let (heard, answers) = {
                let mut s = state.borrow_mut();
                let me = me(&s);
                s.roster.blob(&from, &data, &me, now())
            };
            send_all(state, answers);
            match heard {
                Heard::Presence { who, me } => {
                    tell_announced(state);
                    emit(
                        state,
                        CallEvent::Presence {
                            who,
                            name: me.name,
                            mic: me.mic,
                            camera: me.camera,
                            screen: me.screen,
                        },
                    )
                }
                Heard::Chat { from, text } => emit(
                    state,
                    CallEvent::Chat {
                        from: Some(from),
                        text,
                    },
                ),
                // Unreadable notes (another key) show up as the participant's decryption state;
                // greetings are answered above.
                Heard::Nothing(None) => {}
                // Authentic but refused: replayed, stale, or not announced. Dropped; said in
                // the console, without the note.
                Heard::Nothing(Some(refused)) => web_sys::console::warn_1(
                    &format!("Veilig: a note from {from} was refused: {refused}").into(),
                ),
            }
        }
        ServerMessage::KeyPackage { from, data } => group::key_package(state, &from, &data),
        ServerMessage::Commit {
            commit,
            welcome,
            link_tag,
            ..
        } => group::commit(state, &commit, welcome.as_deref(), link_tag.as_deref()),
        ServerMessage::Pong => {}
        ServerMessage::Error { code, .. } => match code {
            ErrorCode::RoomFull => fail(state, Failure::RoomFull),
            ErrorCode::AccessDenied => fail(state, Failure::AccessDenied),
            _ => {}
        },
    }
}

fn on_peer_state(state: &Rc<RefCell<State>>, pc_state: RtcPeerConnectionState) {
    match pc_state {
        RtcPeerConnectionState::Connected => {
            timeline::mark(Milestone::PeerConnected);
            emit(state, CallEvent::Status(Status::Connected));
        }
        RtcPeerConnectionState::Failed => {
            let signaling = state.borrow_mut().signaling.take();
            if let Some(signaling) = signaling {
                signaling.close();
            }
            schedule_reconnect(state);
        }
        _ => {}
    }
}

fn schedule_reconnect(state: &Rc<RefCell<State>>) {
    let attempt = {
        let mut s = state.borrow_mut();
        if s.ended {
            return;
        }
        s.roster.disconnect();
        s.signaling = None;
        if let Some(peer) = s.peer.take() {
            peer.close();
        }
        s.crypto = None;
        s.attempt += 1;
        s.attempt
    };
    let delay = match attempt {
        1 => 1,
        2 => 2,
        3 => 4,
        4 => 8,
        _ => 10,
    };
    emit(
        state,
        CallEvent::Status(Status::Reconnecting {
            attempt,
            in_seconds: delay,
        }),
    );
    let call = Call {
        state: state.clone(),
    };
    wasm_bindgen_futures::spawn_local(async move {
        sleep(delay as i32 * 1000).await;
        if !call.state.borrow().ended {
            call.connect();
        }
    });
}

/// Sizes our camera for the meeting as it is now (see [`super::video_budget`]).
fn budget_camera(state: &Rc<RefCell<State>>) {
    let s = state.borrow();
    if let Some(peer) = &s.peer {
        peer.set_camera_budget(super::video_budget::for_meeting_of(
            s.roster.participants().len() + 1,
        ));
    }
}

/// Turns the worker's counters into a state per participant (see [`health::decryption`]),
/// and keeps our own tracks' counts for the floors we announce.
fn report_decryption(state: &Rc<RefCell<State>>, stats: &WorkerStats) {
    {
        let mut s = state.borrow_mut();
        for (id, direction, counters) in &stats.transforms {
            if let (Direction::Send, Some(source)) = (direction, slot_source(*id)) {
                s.roster.sent(source, counters.encrypted);
            }
        }
    }
    let lines = match &state.borrow().peer {
        Some(peer) => peer.remote_lines(),
        None => return,
    };
    let health = health::decryption(&lines, stats, &mut state.borrow_mut().last_counts);
    emit(state, CallEvent::Decryption(health));
}

/// Reads the peer connection's inbound statistics and reports them per participant.
fn poll_reception(state: &Rc<RefCell<State>>) {
    let Some(peer) = state.borrow().peer.clone() else {
        return;
    };
    let weak = Rc::downgrade(state);
    wasm_bindgen_futures::spawn_local(async move {
        let Ok(report) = wasm_bindgen_futures::JsFuture::from(peer.stats()).await else {
            return;
        };
        let Some(state) = weak.upgrade() else { return };
        let tracks = state.borrow().tracks.clone();
        emit(
            &state,
            CallEvent::Reception(health::reception(&report, &tracks)),
        );
    });
}
