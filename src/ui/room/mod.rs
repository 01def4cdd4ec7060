//! In the meeting: the tile grid, the controls, the safety code, chat and the participant
//! list, all fed by the call's events.

mod dialogs;
mod notices;
mod stage;
mod tile;
mod view;

use veilig_protocol::{ParticipantId, Source};
use web_sys::{HtmlInputElement, MediaStreamTrack};
use yew::prelude::*;

use super::controls::Controls;
use super::devices::{use_followed_devices, DevicePanel};
use crate::call::session::{Call, Failure, Status};
use crate::i18n::{Lang, Text};
use crate::link_options::Toolbar;
use crate::stage_layout::{self, Arrangement};
pub use view::{Action, View};
use view::{Dialog, Presence};

/// From this many people the grid has four or five columns: tiles are small, so each keeps its
/// name and mute state in view and shows its pin and reception buttons on hover or focus.
const DENSE: usize = 10;

/// Props of the meeting screen.
#[derive(Properties, PartialEq)]
pub struct Props {
    /// Language.
    pub lang: Lang,
    /// The running call.
    pub call: Call,
    /// Its view state.
    pub view: UseReducerHandle<View>,
    /// Whether the chat is offered (`chat=off` in the link hides it).
    #[prop_or(true)]
    pub chat: bool,
    /// The toolbar's size (`toolbar=compact` in the link).
    #[prop_or_default]
    pub toolbar: Toolbar,
    /// The safety code, as shown.
    pub safety_code: AttrValue,
    /// Whether the meeting's keys come from its MLS group: then the safety code is the group's,
    /// and changes when someone joins or leaves.
    pub mls: bool,
    /// The invite link to copy: room and secret (and `pw=1`), without personal link options
    /// such as `name=`.
    pub invite: AttrValue,
    /// Leaves the meeting.
    pub on_leave: Callback<()>,
    /// Retries after a failure.
    pub on_retry: Callback<()>,
    /// The speaker chosen in the lobby, if not the default.
    #[prop_or_default]
    pub speaker: Option<AttrValue>,
}

fn display_name<'a>(text: &'static Text, presence: Option<&'a Presence>) -> &'a str {
    match presence {
        Some(p) if !p.name.is_empty() => &p.name,
        _ => text.anonymous,
    }
}

fn status_line(text: &'static Text, status: &Status) -> Option<String> {
    match status {
        Status::Connecting => Some(text.connecting.into()),
        Status::Reconnecting { in_seconds, .. } => {
            Some(format!("{} {in_seconds} s", text.reconnecting))
        }
        Status::Failed(Failure::RoomFull) => Some(text.room_full.into()),
        Status::Failed(Failure::AccessDenied) => Some(text.access_denied.into()),
        Status::Failed(Failure::Encryption) => Some(text.encryption_failed.into()),
        Status::Failed(Failure::ServerMisbehaved) => Some(text.server_misbehaved.into()),
        Status::Failed(_) => Some(text.failed.into()),
        Status::Connected | Status::Ended => None,
    }
}

/// The meeting screen.
#[function_component]
pub fn Room(props: &Props) -> Html {
    let text = props.lang.text();
    let view = &*props.view;
    let (mic_on, camera_on) = props.call.local_state();
    let own_name = props.call.name();
    let chat_offered = props.chat;
    let compact = props.toolbar == Toolbar::Compact;
    let refresh = use_force_update();
    let copied = use_state(|| false);
    let (devices, device_lost) = use_followed_devices(&props.call);
    let devices_open = use_state(|| false);
    let speaker_sink = {
        let chosen = props.speaker.clone();
        use_state(move || chosen)
    };
    let chat_input = use_node_ref();
    // Opening the chat puts the cursor in its field.
    {
        let chat_input = chat_input.clone();
        use_effect_with(view.chat_open, move |open| {
            if let Some(input) = chat_input.cast::<HtmlInputElement>().filter(|_| *open) {
                let _ = input.focus();
            }
        });
    }
    let stage_ref = use_node_ref();
    let stage_size = stage::use_size(stage_ref.clone());
    stage::use_places(stage_ref.clone());
    let drag = stage::use_own_drag(stage_ref.clone(), stage_size, {
        let view = props.view.clone();
        Callback::from(move |corner| view.dispatch(Action::MoveOwn(corner)))
    });
    // On a phone the side panel is a sheet over the stage, open while any of its parts is.
    let sheet_open = view.panel_open || (view.chat_open && chat_offered) || *devices_open;
    let close_sheet = {
        let view = props.view.clone();
        let devices_open = devices_open.clone();
        Callback::from(move |_: MouseEvent| {
            view.dispatch(Action::CloseSheet);
            devices_open.set(false);
        })
    };

    let on_mic = {
        let call = props.call.clone();
        let refresh = refresh.clone();
        Callback::from(move |_: MouseEvent| {
            call.set_mic(!call.local_state().0);
            refresh.force_update();
        })
    };
    let on_camera = {
        let call = props.call.clone();
        let refresh = refresh.clone();
        Callback::from(move |_: MouseEvent| {
            call.set_camera(!call.local_state().1);
            refresh.force_update();
        })
    };
    let on_leave = {
        let on_leave = props.on_leave.clone();
        Callback::from(move |_: MouseEvent| on_leave.emit(()))
    };
    // "Link copied" says so for a moment, then the button is itself again.
    {
        let copied = copied.clone();
        use_effect_with(*copied, move |now| {
            let timer = now.then(|| super::timer::Timeout::new(3_000, move || copied.set(false)));
            move || drop(timer)
        });
    }
    let on_copy = {
        let copied = copied.clone();
        let invite = props.invite.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&invite);
                copied.set(true);
            }
        })
    };
    let on_chat = {
        let call = props.call.clone();
        let chat_input = chat_input.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            if let Some(input) = chat_input.cast::<HtmlInputElement>() {
                if call.send_chat(&input.value()) {
                    input.set_value("");
                }
            }
        })
    };
    // Keyboard shortcuts, outside text fields: m microphone, v camera, c chat, Shift+L asks
    // to leave, ? the list of shortcuts, Escape closes a dialog.
    {
        let call = props.call.clone();
        let refresh = refresh.clone();
        let view = props.view.clone();
        use_effect_with((), move |_| {
            let listener = wasm_bindgen::closure::Closure::<dyn FnMut(web_sys::KeyboardEvent)>::new(
                move |event: web_sys::KeyboardEvent| {
                    let typing = event
                        .target()
                        .and_then(|t| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(t).ok())
                        .is_some_and(|e| matches!(e.tag_name().as_str(), "INPUT" | "TEXTAREA"));
                    if typing || event.ctrl_key() || event.meta_key() || event.alt_key() {
                        return;
                    }
                    match event.key().as_str() {
                        "m" => call.set_mic(!call.local_state().0),
                        "v" => call.set_camera(!call.local_state().1),
                        "c" if chat_offered => view.dispatch(Action::ToggleChat),
                        "L" if event.shift_key() => {
                            view.dispatch(Action::Dialog(Some(Dialog::Leave)))
                        }
                        "?" => view.dispatch(Action::Dialog(Some(Dialog::Help))),
                        "Escape" => view.dispatch(Action::Dialog(None)),
                        _ => return,
                    }
                    event.prevent_default();
                    refresh.force_update();
                },
            );
            let document = web_sys::window().and_then(|w| w.document());
            if let Some(document) = &document {
                let _ = document.add_event_listener_with_callback(
                    "keydown",
                    wasm_bindgen::JsCast::unchecked_ref(listener.as_ref()),
                );
            }
            move || {
                if let Some(document) = document {
                    let _ = document.remove_event_listener_with_callback(
                        "keydown",
                        wasm_bindgen::JsCast::unchecked_ref(listener.as_ref()),
                    );
                }
            }
        });
    }
    let on_screen = {
        let call = props.call.clone();
        let refresh = refresh.clone();
        Callback::from(move |_: MouseEvent| {
            if call.sharing_screen() {
                call.set_screen(None);
                refresh.force_update();
                return;
            }
            let call = call.clone();
            let refresh = refresh.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(track) = crate::call::media::share_screen().await {
                    call.set_screen(Some(track));
                    refresh.force_update();
                }
            });
        })
    };
    let sharing = props.call.sharing_screen();
    let toggle_chat = {
        let view = props.view.clone();
        Callback::from(move |_: MouseEvent| view.dispatch(Action::ToggleChat))
    };

    let track_of = |who: &ParticipantId, source: Source| {
        view.tracks
            .iter()
            .find(|(_, p, s, _)| p == who && *s == source)
            .map(|(_, _, _, track)| Clone::clone(track))
    };

    // Every tile in one flat, keyed list (ours, everyone else's, the screens shared), placed
    // by the stage's plan: a change of arrangement moves tiles, never their video elements.
    let screens: Vec<(&ParticipantId, MediaStreamTrack)> = view
        .participants
        .iter()
        .filter(|who| view.presence.get(*who).is_some_and(|p| p.screen))
        .filter_map(|who| Some((who, track_of(who, Source::Screen)?)))
        .collect();
    let others = view.participants.len();
    let count = 1 + others + screens.len();
    let position = |who: &ParticipantId| view.participants.iter().position(|p| p == who);
    let arrangement = if !screens.is_empty() {
        Arrangement::Focus { main: 1 + others }
    } else if let Some(pinned) = view.pinned.as_ref().and_then(position) {
        Arrangement::Focus { main: 1 + pinned }
    } else if view.speaker_view && others > 0 {
        let main = view.last_speaker.as_ref().and_then(position).unwrap_or(0);
        Arrangement::Focus { main: 1 + main }
    } else if others == 1 {
        Arrangement::Solo {
            corner: view.corner,
        }
    } else {
        Arrangement::Grid
    };
    let plan = stage_layout::plan(stage_size, count, arrangement);
    let main = match arrangement {
        Arrangement::Focus { main } => Some(main),
        _ => None,
    };
    let floating = matches!(arrangement, Arrangement::Solo { .. });
    let own_tile = tile::own(tile::Own {
        text,
        name: &own_name,
        video: view.own_video.clone().filter(|_| camera_on),
        mic_on,
        style: tile::place(
            &plan.tiles[0],
            if floating { drag.offset } else { (0.0, 0.0) },
        ),
        floating,
        on_pointer_down: drag.down.clone(),
        on_move: {
            let view = props.view.clone();
            let corner = view.corner;
            Callback::from(move |_: MouseEvent| view.dispatch(Action::MoveOwn(corner.next())))
        },
    });
    let speaker = view.speaking();
    let remote_tiles = view.participants.iter().enumerate().map(|(index, who)| {
        let presence = view.presence.get(who);
        let pinned = view.pinned.as_ref() == Some(who);
        tile::remote(tile::Remote {
            text,
            who,
            name: display_name(text, presence).to_owned(),
            decryption: view.decryption.get(who).copied(),
            camera: track_of(who, Source::Camera),
            camera_off: presence.is_some_and(|p| !p.camera),
            audio: track_of(who, Source::Microphone),
            sink: (*speaker_sink).clone(),
            muted: presence.is_some_and(|p| !p.mic),
            reception: view.reception.get(who).copied().unwrap_or_default(),
            speaking: speaker == Some(who),
            pinned,
            main: main == Some(1 + index),
            style: tile::place(&plan.tiles[1 + index], (0.0, 0.0)),
            on_pin: {
                let view = props.view.clone();
                let who = who.clone();
                Callback::from(move |_: MouseEvent| view.dispatch(Action::TogglePin(who.clone())))
            },
        })
    });
    let screen_tiles = screens.iter().enumerate().map(|(index, (who, track))| {
        let at = 1 + others + index;
        tile::screen(
            who,
            display_name(text, view.presence.get(*who)),
            Clone::clone(track),
            tile::place(&plan.tiles[at], (0.0, 0.0)),
            main == Some(at),
        )
    });
    html! {
        <main class={classes!("room", compact.then_some("compact"))} data-testid="room">
            <h1 class="visually-hidden">{ text.meeting_heading }</h1>
            { dialogs::dialog(text, view.dialog, props.view.clone(), props.on_leave.clone()) }
            if let Some(line) = status_line(text, &view.status) {
                <p class="status" role="status" data-testid="status">
                    { line }
                    if matches!(view.status, Status::Failed(_)) {
                        { " " }
                        <button onclick={let r = props.on_retry.clone(); Callback::from(move |_: MouseEvent| r.emit(()))}>
                            { text.retry }
                        </button>
                    }
                </p>
            }
            if view.refused {
                <p class="status" role="alert" data-testid="device-refused">
                    { text.device_refused }{ " " }
                    <button onclick={let v = props.view.clone(); Callback::from(move |_: MouseEvent| v.dispatch(Action::Dismiss))}>
                        { text.dismiss }
                    </button>
                </p>
            }
            if *device_lost {
                <p class="status" role="status" data-testid="device-lost">
                    { text.device_lost }{ " " }
                    <button onclick={let lost = device_lost.clone(); Callback::from(move |_: MouseEvent| lost.set(false))}>
                        { text.dismiss }
                    </button>
                </p>
            }
            <section class="stage" ref={stage_ref} onpointermove={drag.moved.clone()}
                onpointerup={drag.up.clone()} onpointercancel={drag.up.clone()}
                data-arrangement={match arrangement {
                    Arrangement::Grid => "grid",
                    Arrangement::Solo { .. } => "solo",
                    Arrangement::Focus { .. } => "focus",
                }}>
                <div class={classes!("grid", (count >= DENSE).then_some("dense"))}
                    data-place={format!("height:{:.1}px", plan.height)}>
                    { own_tile }
                    { for remote_tiles }
                    { for screen_tiles }
                </div>
                if sharing {
                    <p class="sharing" role="status">{ text.sharing_notice }</p>
                }
                <notices::Notices lang={props.lang} view={props.view.clone()} />
                if view.participants.is_empty() {
                    <p class="alone">{ text.alone }</p>
                }
            </section>
            <aside class={classes!("side", sheet_open.then_some("open"), (view.chat_open && chat_offered).then_some("chat-open"))} id="side-panel"
                aria-label={text.panel} data-testid="side-panel">
                <button class="sheet-close" onclick={close_sheet} data-testid="close-panel">
                    { text.close }
                </button>
                if *devices_open {
                    <DevicePanel lang={props.lang} call={props.call.clone()} devices={devices.clone()}
                        in_use={super::devices::in_use(&props.call)}
                        speaker={(*speaker_sink).clone()}
                        on_speaker={let sink = speaker_sink.clone(); Callback::from(move |id: AttrValue| sink.set(Some(id)))} />
                }
                <section class="safety" aria-label={text.safety_code}>
                    <h2>{ text.safety_code }</h2>
                    if props.mls {
                        <p class="code" data-testid="safety-code" data-epoch={view.group.as_ref().map(|(epoch, _)| epoch.to_string())}>
                            { view.group.as_ref().map_or(text.safety_code_pending, |(_, code)| code.as_str()) }
                        </p>
                        <p class="hint">{ text.safety_code_hint_group }</p>
                    } else {
                        <p class="code" data-testid="safety-code">{ props.safety_code.clone() }</p>
                        <p class="hint">{ text.safety_code_hint }</p>
                    }
                    <input class="invite" type="text" readonly=true value={props.invite.clone()}
                        aria-label={text.copy_link} data-testid="invite-link" />
                    <button onclick={on_copy} data-testid="copy-link">
                        { if *copied { text.link_copied } else { text.copy_link } }
                    </button>
                    <p class="hint">{ text.link_warning }</p>
                </section>
                <section class="people">
                    <h2>{ text.participants }{ format!(" ({count})") }</h2>
                    <ul data-testid="participants">
                        <li>{ text.you }</li>
                        { for view.participants.iter().map(|who| html! {
                            <li>{ display_name(text, view.presence.get(who)) }</li>
                        }) }
                    </ul>
                </section>
                if view.chat_open && chat_offered {
                    <section class="chat" data-testid="chat">
                        <h2>{ text.chat }</h2>
                        <ol data-testid="chat-messages" aria-live="polite">
                            { for view.chat.iter().map(|line| {
                                let who = match (&line.from, line.name.is_empty()) {
                                    (None, _) => text.you,
                                    (Some(_), true) => text.anonymous,
                                    (Some(_), false) => line.name.as_str(),
                                };
                                html! {
                                    <li><time>{ line.at.clone() }</time>{ " " }<b>{ who }{ ": " }</b>{ line.text.clone() }</li>
                                }
                            }) }
                        </ol>
                        <form onsubmit={on_chat}>
                            <input ref={chat_input} type="text" maxlength="2000"
                                placeholder={text.chat_placeholder} aria-label={text.chat_placeholder}
                                data-testid="chat-input" />
                            <button type="submit">{ text.send }</button>
                        </form>
                    </section>
                }
            </aside>
            <Controls lang={props.lang} {mic_on} mic_track={props.call.local_media().audio}
                {camera_on} {sharing} devices_open={*devices_open} {chat_offered}
                chat_open={view.chat_open} unread={view.unread} {on_mic} {on_camera} {on_screen}
                on_devices={let open = devices_open.clone(); Callback::from(move |_: MouseEvent| open.set(!*open))}
                on_chat={toggle_chat} {on_leave} panel_open={sheet_open}
                on_panel={let v = props.view.clone(); Callback::from(move |_: MouseEvent| v.dispatch(Action::TogglePanel))}
                speaker_view={view.speaker_view}
                on_speaker_view={let v = props.view.clone(); Callback::from(move |_: MouseEvent| v.dispatch(Action::ToggleSpeakerView))} />
        </main>
    }
}
