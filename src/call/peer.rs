//! The one peer connection to the relay: answering its offers, putting our tracks on our
//! upstream slots, and encrypting and decrypting every track through the frame-crypto worker.
//!
//! The relay always offers (see `veilig-protocol`): three upstream slots for our microphone,
//! camera and screen, and one line per track it forwards from someone else. Each offer lists
//! what every line is, by `mid`. The relay is not trusted with those labels: every offer goes
//! through [`LineBook::admit`] first, which refuses any offer that changes a known line's role
//! (the refusal fails the call closed, see [`PeerError::Refused`]). Only then is the offer
//! applied; each line gets the one transform its role can ever need when it first appears
//! (encrypt on a slot's sender, decrypt on a remote line's receiver), before the answer, so no
//! frame passes unprotected. A track is put on a sender only through [`Peer::send_on`], which
//! refuses a sender whose encrypt transform is not in place. Answers go out without our
//! addresses ([`scrub_answer`]).

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use js_sys::Reflect;
use veilig_protocol::{MediaLine, ParticipantId, Source};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    MediaStreamTrack, RtcConfiguration, RtcPeerConnection, RtcPeerConnectionState,
    RtcRtpTransceiver, RtcRtpTransceiverDirection, RtcSdpType, RtcSessionDescriptionInit,
};

use super::lines::{scrub_answer, LineBook, Planned, Refusal, Role};
use super::metadata::MediaKids;
use super::video_budget::{self, VideoBudget};
use crate::encryption::FrameCrypto;
use crate::frame_crypto::codec_table::MediaKind;

/// Transform ids of our three upstream slots; remote lines count up from [`FIRST_REMOTE_ID`].
fn slot_id(source: Source) -> u32 {
    match source {
        Source::Microphone => 1,
        Source::Camera => 2,
        Source::Screen => 3,
    }
}

/// The source of our upstream slot whose transform id is `id`, if it is one.
pub fn slot_source(id: u32) -> Option<Source> {
    [Source::Microphone, Source::Camera, Source::Screen]
        .into_iter()
        .find(|source| slot_id(*source) == id)
}

/// The first transform id of a remote line.
pub const FIRST_REMOTE_ID: u32 = 1000;

fn kind_of(source: Source) -> MediaKind {
    match source {
        Source::Microphone => MediaKind::Audio,
        Source::Camera | Source::Screen => MediaKind::Video,
    }
}

/// A remote track as it appears: which line, whose, what.
#[derive(Clone, Debug)]
pub struct RemoteTrack {
    /// The transform id the worker reports it under.
    pub transform: u32,
    /// Whose.
    pub from: ParticipantId,
    /// Microphone, camera or screen.
    pub source: Source,
    /// The track to play.
    pub track: MediaStreamTrack,
}

/// Why the media connection could not be set up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// The browser refused an SDP step.
    #[error("the browser refused the relay's offer: {0}")]
    Sdp(String),
    /// The worker could not be attached (the browser refused the encoded transform).
    #[error("encryption could not be attached: {0}")]
    Encryption(String),
    /// The relay's offer breaks the rules of [`super::lines`]: it lied about a line.
    #[error("the relay's offer was refused: {0}")]
    Refused(#[from] Refusal),
}

struct Inner {
    /// Every line's role, fixed when it first appeared.
    book: LineBook,
    /// Transform id per remote mid (kept across offers: the worker's source for that line).
    remote_ids: HashMap<String, u32>,
    next_remote_id: u32,
    /// Mids whose sender has its encrypt transform: the only senders that may get a track.
    encrypting: HashSet<String>,
    local: HashMap<Source, Option<MediaStreamTrack>>,
    /// What the camera slot is asked to send (see [`video_budget`]).
    camera_budget: VideoBudget,
    /// The KIDs our slots encrypt under (announced in our presence notes).
    kids: MediaKids,
}

/// The peer connection to the relay.
pub struct Peer {
    pc: RtcPeerConnection,
    crypto: Rc<FrameCrypto>,
    inner: Rc<RefCell<Inner>>,
    _on_state: Closure<dyn FnMut()>,
}

fn text(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| format!("{error:?}"))
}

impl Peer {
    /// A new peer connection whose frames all go through `crypto`, ours under `kids`;
    /// `on_state` hears each change of the connection state.
    pub fn new(
        crypto: Rc<FrameCrypto>,
        kids: MediaKids,
        on_state: Rc<dyn Fn(RtcPeerConnectionState)>,
    ) -> Result<Peer, PeerError> {
        let config = RtcConfiguration::new();
        if crypto.needs_insertable_streams() {
            let _ = Reflect::set(&config, &"encodedInsertableStreams".into(), &true.into());
        }
        // No STUN servers: the relay is ICE-lite with a public address of its own, and asking a
        // third party for ours would leak it. TURN only if the relay's operator runs one
        // (`use_ice_servers`, from the welcome).
        let pc = RtcPeerConnection::new_with_configuration(&config)
            .map_err(|e| PeerError::Sdp(text(&e)))?;
        let inner = Rc::new(RefCell::new(Inner {
            book: LineBook::new(),
            remote_ids: HashMap::new(),
            next_remote_id: FIRST_REMOTE_ID,
            encrypting: HashSet::new(),
            local: HashMap::new(),
            camera_budget: video_budget::for_meeting_of(1),
            kids,
        }));
        let on_state_closure = {
            let pc = pc.clone();
            Closure::<dyn FnMut()>::new(move || on_state(pc.connection_state()))
        };
        pc.set_onconnectionstatechange(Some(on_state_closure.as_ref().unchecked_ref()));
        Ok(Peer {
            pc,
            crypto,
            inner,
            _on_state: on_state_closure,
        })
    }

    /// The remote lines: transform id → (participant, source).
    pub fn remote_lines(&self) -> Vec<(u32, ParticipantId, Source)> {
        let inner = self.inner.borrow();
        inner
            .remote_ids
            .iter()
            .filter_map(|(mid, id)| match inner.book.role(mid)? {
                Role::Remote { from, source } => Some((*id, from.clone(), *source)),
                Role::Slot(_) => None,
            })
            .collect()
    }

    /// Our own participant id in this connection: no remote line may claim to be ours.
    pub fn set_you(&self, you: ParticipantId) {
        self.inner.borrow_mut().book.set_you(you);
    }

    /// Answers the relay's offer. Returns the answer's SDP and every remote track the
    /// connection now receives. An offer that breaks the rules of [`super::lines`] is refused
    /// before the browser sees it ([`PeerError::Refused`]); the caller must end the call.
    ///
    /// The answer goes out at once, without waiting for ICE gathering: the relay is an ICE-lite
    /// agent, which never sends checks of its own, so our candidates are of no use to it. It
    /// learns each of our addresses (host, TCP, or a TURN server's) as a peer-reflexive
    /// candidate from the checks we send to the candidates in its offer. Waiting for gathering
    /// cost about 300 ms on every join, and seconds with a slow TURN server.
    pub async fn answer(
        &self,
        sdp: &str,
        lines: Vec<MediaLine>,
    ) -> Result<(String, Vec<RemoteTrack>), PeerError> {
        let verdict = self.inner.borrow_mut().book.admit(sdp, &lines)?;
        let offer = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        offer.set_sdp(sdp);
        JsFuture::from(self.pc.set_remote_description(&offer))
            .await
            .map_err(|e| PeerError::Sdp(text(&e)))?;
        let mut remote = Vec::new();
        for transceiver in self.pc.get_transceivers().iter() {
            let transceiver: RtcRtpTransceiver = transceiver.unchecked_into();
            let planned = transceiver.mid().and_then(|mid| verdict.get(&mid).cloned());
            match planned {
                Some(planned) => {
                    if let Some(track) = self.prepare(&transceiver, &planned)? {
                        remote.push(track);
                    }
                }
                // A stopped line: it must send nothing, whatever it sent before.
                None => unsend(&transceiver),
            }
        }
        let answer = JsFuture::from(self.pc.create_answer())
            .await
            .map_err(|e| PeerError::Sdp(text(&e)))?;
        let answer: RtcSessionDescriptionInit = answer.unchecked_into();
        JsFuture::from(self.pc.set_local_description(&answer))
            .await
            .map_err(|e| PeerError::Sdp(text(&e)))?;
        self.apply_camera_budget();
        let sdp = self
            .pc
            .local_description()
            .map(|d| scrub_answer(&d.sdp()))
            .unwrap_or_default();
        Ok((sdp, remote))
    }

    /// Gives a line of an admitted offer the transform of its role if it is new, its
    /// direction, and its track (a slot) or the remote track it plays (a remote line).
    fn prepare(
        &self,
        transceiver: &RtcRtpTransceiver,
        planned: &Planned,
    ) -> Result<Option<RemoteTrack>, PeerError> {
        match &planned.role {
            Role::Slot(source) => {
                let sender = transceiver.sender();
                if planned.new {
                    let kid = self.inner.borrow().kids.of(*source);
                    self.crypto
                        .protect_sender(&sender, slot_id(*source), kind_of(*source), Some(kid))
                        .map_err(|e| PeerError::Encryption(e.to_string()))?;
                    self.inner
                        .borrow_mut()
                        .encrypting
                        .insert(planned.mid.clone());
                }
                transceiver.set_direction(RtcRtpTransceiverDirection::Sendonly);
                let track = self.inner.borrow().local.get(source).cloned().flatten();
                self.send_on(transceiver, track.as_ref());
                Ok(None)
            }
            Role::Remote { from, source } => {
                transceiver.set_direction(RtcRtpTransceiverDirection::Recvonly);
                unsend(transceiver);
                let id = {
                    let mut inner = self.inner.borrow_mut();
                    match inner.remote_ids.get(&planned.mid) {
                        Some(&id) => id,
                        None => {
                            let id = inner.next_remote_id;
                            inner.next_remote_id += 1;
                            inner.remote_ids.insert(planned.mid.clone(), id);
                            id
                        }
                    }
                };
                if planned.new {
                    self.crypto
                        .protect_receiver(&transceiver.receiver(), id, kind_of(*source), Vec::new())
                        .map_err(|e| PeerError::Encryption(e.to_string()))?;
                }
                Ok(Some(RemoteTrack {
                    transform: id,
                    from: from.clone(),
                    source: *source,
                    track: transceiver.receiver().track(),
                }))
            }
        }
    }

    /// The one place a track is put on a sender: only on a sender whose encrypt transform is
    /// in place. Any other sender is left with no track, whatever it was asked to send.
    fn send_on(&self, transceiver: &RtcRtpTransceiver, track: Option<&MediaStreamTrack>) {
        let encrypting = transceiver
            .mid()
            .is_some_and(|mid| self.inner.borrow().encrypting.contains(&mid));
        let track = if encrypting { track } else { None };
        IGNORE_REJECTION.with(|ignore| {
            let _ = transceiver.sender().replace_track(track).catch(ignore);
        });
    }

    /// Sends `track` (or nothing) on our slot for `source`; takes effect at once if the slot
    /// exists, else at the next offer.
    pub fn set_local(&self, source: Source, track: Option<MediaStreamTrack>) {
        self.inner.borrow_mut().local.insert(source, track.clone());
        if let Some(transceiver) = self.slot(source) {
            self.send_on(&transceiver, track.as_ref());
        }
    }

    /// The transceiver of our upstream slot for `source`, once the relay has offered it.
    fn slot(&self, source: Source) -> Option<RtcRtpTransceiver> {
        let mid = self.inner.borrow().book.slot_mid(source)?.to_owned();
        self.pc
            .get_transceivers()
            .iter()
            .map(|t| t.unchecked_into::<RtcRtpTransceiver>())
            .find(|t| t.mid().as_deref() == Some(mid.as_str()))
    }

    /// Sends the camera within `budget` from now on (and on the camera slot once it exists).
    pub fn set_camera_budget(&self, budget: VideoBudget) {
        let changed = {
            let mut inner = self.inner.borrow_mut();
            let changed = inner.camera_budget != budget;
            inner.camera_budget = budget;
            changed
        };
        if changed {
            self.apply_camera_budget();
        }
    }

    /// Sets the camera sender's first encoding to the budget. Takes effect without
    /// renegotiation; before the slot is negotiated there is nothing to set yet (the next
    /// answer calls this again).
    fn apply_camera_budget(&self) {
        let Some(transceiver) = self.slot(Source::Camera) else {
            return;
        };
        let budget = self.inner.borrow().camera_budget;
        let sender = transceiver.sender();
        let parameters = sender.get_parameters();
        let encodings = Reflect::get(&parameters, &"encodings".into())
            .ok()
            .and_then(|e| e.dyn_into::<js_sys::Array>().ok());
        let Some(first) = encodings
            .as_ref()
            .map(|e| e.get(0))
            .filter(|e| e.is_object())
        else {
            return;
        };
        let _ = Reflect::set(
            &first,
            &"scaleResolutionDownBy".into(),
            &budget.scale_down.into(),
        );
        let _ = Reflect::set(&first, &"maxBitrate".into(), &budget.max_bitrate.into());
        let refused = Closure::<dyn FnMut(JsValue)>::new(|error: JsValue| {
            web_sys::console::warn_2(&"Veilig: the camera budget was refused".into(), &error);
        });
        let _ = sender
            .set_parameters_with_parameters(&parameters)
            .catch(&refused);
        refused.forget();
    }

    /// Adds the TURN servers the relay handed out (the operator's own, with short-lived
    /// credentials), for networks where nothing else gets through. None: nothing changes.
    pub fn use_ice_servers(&self, servers: &[veilig_protocol::IceServer]) {
        if servers.is_empty() {
            return;
        }
        let list = js_sys::Array::new();
        for server in servers {
            let entry = js_sys::Object::new();
            let urls: js_sys::Array = server.urls.iter().map(JsValue::from).collect();
            let _ = Reflect::set(&entry, &"urls".into(), &urls);
            let _ = Reflect::set(&entry, &"username".into(), &server.username.as_str().into());
            let _ = Reflect::set(
                &entry,
                &"credential".into(),
                &server.credential.as_str().into(),
            );
            list.push(&entry);
        }
        let config = self.pc.get_configuration();
        let _ = Reflect::set(&config, &"iceServers".into(), &list);
        if let Err(error) = self.pc.set_configuration_with_configuration(&config) {
            web_sys::console::warn_2(
                &"Veilig: the relay's TURN servers were refused".into(),
                &error,
            );
        }
    }

    /// Ends the connection.
    pub fn close(&self) {
        self.pc.close();
    }

    /// The peer connection's stats report (for tests and diagnostics).
    pub fn stats(&self) -> js_sys::Promise {
        self.pc.get_stats()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.pc.set_onconnectionstatechange(None);
        self.pc.close();
    }
}

/// Resolves after `ms` milliseconds.
pub async fn sleep(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = JsFuture::from(promise).await;
}

thread_local! {
    /// A rejection handler that does nothing: `replaceTrack` rejects on a line the relay
    /// stopped, which then sends nothing anyway.
    static IGNORE_REJECTION: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| {});
}

/// Takes any track off `transceiver`'s sender (a stopped line, or one that only receives).
fn unsend(transceiver: &RtcRtpTransceiver) {
    IGNORE_REJECTION.with(|ignore| {
        let _ = transceiver.sender().replace_track(None).catch(ignore);
    });
}
