//! What the meeting screen shows, as data: the [`View`] and the [`Action`]s that change it,
//! applied by a reducer (the call's events, and the user's pins and panels). No rendering
//! here, and no call: `super` draws the view, the call only emits events.

use std::collections::HashMap;
use std::rc::Rc;

use veilig_protocol::ParticipantId;
use web_sys::MediaStreamTrack;
use yew::prelude::*;

use crate::call::peer::RemoteTrack;
use crate::call::session::{CallEvent, Decryption, Reception, Status};
use veilig_protocol::Source;

/// What a participant told us about themselves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Presence {
    pub(super) name: String,
    pub(super) mic: bool,
    pub(super) camera: bool,
    pub(super) screen: bool,
}

/// A chat message as shown: with the name its sender had when it arrived, so that it keeps
/// that name after they leave, rejoin under a new id or the call reconnects.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct ChatLine {
    /// `None`: ours.
    pub(super) from: Option<ParticipantId>,
    /// The sender's name then (empty: they gave none).
    pub(super) name: String,
    /// The message.
    pub(super) text: String,
}

/// Everything the meeting screen shows.
#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub(super) status: Status,
    pub(super) you: Option<ParticipantId>,
    pub(super) participants: Vec<ParticipantId>,
    pub(super) presence: HashMap<ParticipantId, Presence>,
    pub(super) tracks: Vec<(u32, ParticipantId, Source, MediaStreamTrack)>,
    pub(super) chat: Vec<ChatLine>,
    pub(super) decryption: HashMap<ParticipantId, Decryption>,
    pub(super) reception: HashMap<ParticipantId, Reception>,
    pub(super) own_video: Option<MediaStreamTrack>,
    pub(super) pinned: Option<ParticipantId>,
    pub(super) chat_open: bool,
    pub(super) unread: usize,
    /// The browser refused a device we asked to turn on (shown until dismissed).
    pub(super) refused: bool,
}

impl Default for View {
    fn default() -> Self {
        View {
            status: Status::Connecting,
            you: None,
            participants: Vec::new(),
            presence: HashMap::new(),
            tracks: Vec::new(),
            chat: Vec::new(),
            decryption: HashMap::new(),
            reception: HashMap::new(),
            own_video: None,
            pinned: None,
            chat_open: false,
            unread: 0,
            refused: false,
        }
    }
}

impl View {
    /// Whether the relay has admitted the current call (it told us our id).
    pub fn admitted(&self) -> bool {
        self.you.is_some()
    }

    /// How the current call is doing.
    pub fn status(&self) -> &Status {
        &self.status
    }
}

/// What changes the view.
pub enum Action {
    /// A new call starts: nothing is known of it yet (the chat stays).
    NewCall,
    /// From the call.
    Event(CallEvent),
    /// Chat panel open or closed.
    ToggleChat,
    /// Pin a participant's tile large, or unpin.
    TogglePin(ParticipantId),
    /// Hide the notice about a refused device.
    Dismiss,
}

impl Reducible for View {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut view = (*self).clone();
        match action {
            Action::ToggleChat => {
                view.chat_open = !view.chat_open;
                view.unread = 0;
            }
            Action::Dismiss => view.refused = false,
            Action::NewCall => {
                view.you = None;
                view.status = Status::Connecting;
            }
            Action::TogglePin(who) => {
                view.pinned = if view.pinned.as_ref() == Some(&who) {
                    None
                } else {
                    Some(who)
                };
            }
            Action::Event(event) => match event {
                CallEvent::Status(status) => view.status = status,
                CallEvent::You(you) => {
                    // A new connection believes nothing of the last one: names and states come
                    // back only with presence notes that answer this connection's session.
                    // (Chat lines keep the names they arrived under.)
                    view.you = Some(you);
                    view.tracks.clear();
                    view.presence.clear();
                }
                CallEvent::Participants(list) => {
                    if view.pinned.as_ref().is_some_and(|p| !list.contains(p)) {
                        view.pinned = None;
                    }
                    view.presence.retain(|p, _| list.contains(p));
                    view.tracks.retain(|(_, p, _, _)| list.contains(p));
                    view.participants = list;
                }
                CallEvent::Presence {
                    who,
                    name,
                    mic,
                    camera,
                    screen,
                } => {
                    view.presence.insert(
                        who,
                        Presence {
                            name,
                            mic,
                            camera,
                            screen,
                        },
                    );
                }
                CallEvent::Tracks(tracks) => {
                    view.tracks = tracks
                        .into_iter()
                        .map(
                            |RemoteTrack {
                                 transform,
                                 from,
                                 source,
                                 track,
                             }| { (transform, from, source, track) },
                        )
                        .collect();
                }
                CallEvent::Chat { from, text } => {
                    if from.is_some() && !view.chat_open {
                        view.unread += 1;
                    }
                    let name = from
                        .as_ref()
                        .and_then(|who| view.presence.get(who))
                        .map(|p| p.name.clone())
                        .unwrap_or_default();
                    view.chat.push(ChatLine { from, name, text });
                }
                CallEvent::Reception(reception) => view.reception = reception,
                CallEvent::LocalVideo(track) => view.own_video = track,
                // Nothing to store: the controls read the call's state when drawn again.
                CallEvent::LocalChanged => view.refused = false,
                CallEvent::DeviceRefused(_) => view.refused = true,
                CallEvent::Decryption(health) => {
                    for (who, state) in health {
                        // Keep "fine" once seen until it fails; "waiting" says nothing new.
                        if state != Decryption::Waiting {
                            view.decryption.insert(who, state);
                        }
                    }
                }
            },
        }
        Rc::new(view)
    }
}
