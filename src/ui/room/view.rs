//! What the meeting screen shows, as data: the [`View`] and the [`Action`]s that change it,
//! applied by a reducer (the call's events, and the user's pins and panels). No rendering
//! here, and no call: `super` draws the view, the call only emits events.

use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use veilig_protocol::ParticipantId;
use web_sys::MediaStreamTrack;
use yew::prelude::*;

use crate::call::peer::RemoteTrack;
use crate::call::session::{CallEvent, Decryption, Reception, Status};
use crate::stage_layout::Corner;
use veilig_protocol::Source;

/// Audio level (0 to 1) above which a participant counts as speaking.
const SPEAKING: f64 = 0.02;

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
    /// When it arrived (or was sent), as the time of day.
    pub(super) at: String,
}

/// What a notice tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NoticeKind {
    /// Someone joined.
    Joined,
    /// Someone left.
    Left,
    /// A chat message arrived while the chat was closed.
    Chat,
}

/// A short-lived notice over the stage (also read out: the notices are a live region).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Notice {
    /// Its number, to take it away again.
    pub(super) id: u32,
    pub(super) kind: NoticeKind,
    /// Whose (empty: they gave no name).
    pub(super) name: String,
    /// The chat message, for a chat notice.
    pub(super) text: String,
}

/// A dialog over the meeting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialog {
    /// The keyboard shortcuts (`?`).
    Help,
    /// "Leave the meeting?" (`Shift+L`).
    Leave,
}

/// At most this many notices show at once; older ones make way.
const NOTICES: usize = 3;

/// The time of day now, as chat shows it ("14:05").
fn clock() -> String {
    let now = js_sys::Date::new_0();
    format!("{:02}:{:02}", now.get_hours(), now.get_minutes())
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
    /// Who spoke last (the speaker view keeps showing them through a silence).
    pub(super) last_speaker: Option<ParticipantId>,
    /// The speaker view (one large tile and a strip) rather than the grid.
    pub(super) speaker_view: bool,
    /// Where our own small tile floats when we are two.
    pub(super) corner: Corner,
    /// The side panel (safety code, link, people), a sheet on a phone, is open.
    pub(super) panel_open: bool,
    /// The dialog open, if any.
    pub(super) dialog: Option<Dialog>,
    /// Notices showing now, oldest first.
    pub(super) notices: Vec<Notice>,
    next_notice: u32,
    /// Participants already announced (or there when we came): no notice for them again.
    greeted: HashSet<ParticipantId>,
    /// The next participant list is the first of a new connection: whoever is in it was
    /// there already, and is not announced.
    fresh: bool,
    /// In an MLS meeting, our group's current epoch and its safety code (`None` until we are in
    /// the group).
    pub(super) group: Option<(u64, String)>,
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
            last_speaker: None,
            speaker_view: false,
            corner: Corner::default(),
            panel_open: false,
            dialog: None,
            notices: Vec::new(),
            next_notice: 0,
            greeted: HashSet::new(),
            fresh: true,
            group: None,
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

    fn notify(&mut self, kind: NoticeKind, name: String, text: String) {
        self.notices.push(Notice {
            id: self.next_notice,
            kind,
            name,
            text,
        });
        self.next_notice += 1;
        let extra = self.notices.len().saturating_sub(NOTICES);
        self.notices.drain(..extra);
    }

    /// The participant speaking now: the loudest, if loud enough.
    pub(super) fn speaking(&self) -> Option<&ParticipantId> {
        self.reception
            .iter()
            .filter(|(_, r)| r.audio_level > SPEAKING)
            .max_by(|a, b| a.1.audio_level.total_cmp(&b.1.audio_level))
            .map(|(who, _)| who)
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
    /// Speaker view on or off.
    ToggleSpeakerView,
    /// Our own small tile goes to this corner.
    MoveOwn(Corner),
    /// The side panel (a sheet on a phone) open or closed.
    TogglePanel,
    /// Close the sheet: the panel, the chat and (by the room) the devices.
    CloseSheet,
    /// A notice has been shown long enough.
    Expire(u32),
    /// Open a dialog, or (`None`) close it.
    Dialog(Option<Dialog>),
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
            Action::ToggleSpeakerView => view.speaker_view = !view.speaker_view,
            Action::MoveOwn(corner) => view.corner = corner,
            Action::Expire(id) => view.notices.retain(|n| n.id != id),
            Action::Dialog(dialog) => view.dialog = dialog,
            Action::TogglePanel => view.panel_open = !view.panel_open,
            Action::CloseSheet => {
                view.panel_open = false;
                view.chat_open = false;
            }
            Action::NewCall => {
                view.you = None;
                view.status = Status::Connecting;
                view.group = None;
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
                    view.fresh = true;
                }
                CallEvent::Participants(list) => {
                    if view.pinned.as_ref().is_some_and(|p| !list.contains(p)) {
                        view.pinned = None;
                    }
                    if view
                        .last_speaker
                        .as_ref()
                        .is_some_and(|p| !list.contains(p))
                    {
                        view.last_speaker = None;
                    }
                    if std::mem::take(&mut view.fresh) {
                        view.greeted.extend(list.iter().cloned());
                    }
                    // Whoever we announced and is gone now has left.
                    let gone: Vec<ParticipantId> = view
                        .greeted
                        .iter()
                        .filter(|p| !list.contains(p))
                        .cloned()
                        .collect();
                    for who in gone {
                        view.greeted.remove(&who);
                        let name = view.presence.get(&who).map(|p| p.name.clone());
                        view.notify(NoticeKind::Left, name.unwrap_or_default(), String::new());
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
                    // Announced once we know their name (or that they gave none).
                    if view.participants.contains(&who) && view.greeted.insert(who.clone()) {
                        view.notify(NoticeKind::Joined, name.clone(), String::new());
                    }
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
                    if from.is_some() && !view.chat_open {
                        view.notify(NoticeKind::Chat, name.clone(), text.clone());
                    }
                    view.chat.push(ChatLine {
                        from,
                        name,
                        text,
                        at: clock(),
                    });
                }
                CallEvent::Reception(reception) => {
                    view.reception = reception;
                    if let Some(who) = view.speaking().cloned() {
                        view.last_speaker = Some(who);
                    }
                }
                CallEvent::LocalVideo(track) => view.own_video = track,
                // Nothing to store: the controls read the call's state when drawn again.
                CallEvent::LocalChanged => view.refused = false,
                CallEvent::DeviceRefused(_) => view.refused = true,
                CallEvent::Epoch { epoch, code, .. } => view.group = Some((epoch, code)),
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
