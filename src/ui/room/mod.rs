//! In the meeting: the tile grid, the controls, the safety code, chat and the participant
//! list, all fed by the call's events.

mod view;

use veilig_protocol::{ParticipantId, Source};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::controls::Controls;
use super::devices::{use_followed_devices, DevicePanel};
use super::media_element::MediaElement;
use crate::call::route::Route;
use crate::call::session::{Call, Decryption, Failure, Status};
use crate::i18n::{Lang, Text};
use crate::link_options::Toolbar;
use view::Presence;
pub use view::{Action, View};

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
    // Keyboard shortcuts, outside text fields: m microphone, v camera, c chat, Shift+L leave.
    {
        let call = props.call.clone();
        let refresh = refresh.clone();
        let view = props.view.clone();
        let on_leave = props.on_leave.clone();
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
                        "L" if event.shift_key() => on_leave.emit(()),
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

    let own_tile = html! {
        <figure class="tile own" data-testid="tile-self">
            if let (Some(track), true) = (view.own_video.clone(), camera_on) {
                <MediaElement track={track} local=true />
            } else {
                <div class="no-video" />
            }
            <figcaption>
                { format!("{} ({})", if own_name.is_empty() { text.anonymous } else { own_name.as_str() }, text.you) }
                if !mic_on { <span class="muted">{ text.muted }</span> }
            </figcaption>
        </figure>
    };
    // The active speaker: the loudest participant, if loud enough to be speaking.
    let speaker = view
        .reception
        .iter()
        .filter(|(_, r)| r.audio_level > 0.02)
        .max_by(|a, b| a.1.audio_level.total_cmp(&b.1.audio_level))
        .map(|(who, _)| who.clone());
    let remote_tiles = view.participants.iter().map(|who| {
        let presence = view.presence.get(who);
        let name = display_name(text, presence).to_owned();
        let decryption = view.decryption.get(who).copied();
        let failing = matches!(
            decryption,
            Some(Decryption::Failing | Decryption::Refusing)
        );
        let camera = track_of(who, Source::Camera);
        let audio = track_of(who, Source::Microphone);
        let muted = presence.is_some_and(|p| !p.mic);
        let reception = view.reception.get(who).copied().unwrap_or_default();
        let speaking = speaker.as_ref() == Some(who);
        let pinned = view.pinned.as_ref() == Some(who);
        let pin = {
            let view = props.view.clone();
            let who = who.clone();
            Callback::from(move |_: MouseEvent| view.dispatch(Action::TogglePin(who.clone())))
        };
        html! {
            // Keyed by participant: when someone joins or leaves, the others' tiles (and their
            // playing media elements) stay as they are instead of shifting to another person.
            <figure key={who.to_string()}
                class={classes!("tile", speaking.then_some("speaking"), pinned.then_some("pinned"))}
                data-testid="tile-remote" data-participant={who.to_string()}
                data-speaking={speaking.to_string()} data-pinned={pinned.to_string()}
                data-state={match decryption {
                    Some(Decryption::Failing) => "cannot-decrypt",
                    Some(Decryption::Refusing) => "refusing",
                    _ => "ok",
                }}
                data-frames-decoded={reception.frames_decoded.map(|n| n.to_string())}
                data-video-packets={reception.video_packets.to_string()}
                data-audio-energy={reception.audio_energy.to_string()}
                data-packets-lost={reception.packets_lost.to_string()}
                data-nacks-sent={reception.nacks_sent.to_string()}
                data-route={reception.route.as_str()}>
                if failing {
                    <div class="cannot-decrypt" role="status">{
                        if decryption == Some(Decryption::Refusing) {
                            text.refusing_frames
                        } else {
                            text.cannot_decrypt
                        }
                    }</div>
                } else if presence.is_some_and(|p| !p.camera) {
                    <div class="no-video" data-testid="camera-off">{ text.camera_off }</div>
                } else if let Some(track) = camera {
                    <MediaElement track={track} testid="remote-video" />
                } else {
                    <div class="no-video">{ text.waiting_for_video }</div>
                }
                if let Some(track) = audio {
                    <MediaElement track={track} testid="remote-audio" sink={(*speaker_sink).clone()} />
                }
                <figcaption>
                    <span data-testid="tile-name">{ name }</span>
                    if muted {
                        <span class="muted" data-testid="tile-muted">{ text.muted }</span>
                    }
                </figcaption>
                <button class="pin" onclick={pin} aria-pressed={pinned.to_string()}
                    data-testid="pin">
                    { if pinned { text.unpin } else { text.pin } }
                </button>
                <details class="reception">
                    <summary>{ text.reception }</summary>
                    <dl>
                        <dt>{ text.frames_per_second }</dt>
                        <dd>{ format!("{:.0}", reception.frames_per_second) }</dd>
                        <dt>{ text.packets_lost }</dt>
                        <dd>{ reception.packets_lost }</dd>
                        <dt>{ text.route }</dt>
                        <dd>{ match reception.route {
                            Route::Unknown => text.route_unknown,
                            Route::Direct => text.route_direct,
                            Route::Turn => text.route_turn,
                        } }</dd>
                    </dl>
                </details>
            </figure>
        }
    });
    let screens = view.participants.iter().filter_map(|who| {
        let track = track_of(who, Source::Screen)?;
        view.presence.get(who).filter(|p| p.screen)?;
        Some(html! {
            <figure key={who.to_string()} class="tile screen" data-testid="tile-screen">
                <MediaElement track={track} />
                <figcaption>{ display_name(text, view.presence.get(who)) }</figcaption>
            </figure>
        })
    });
    let count = view.participants.len() + 1;
    html! {
        <main class={classes!("room", compact.then_some("compact"))} data-testid="room">
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
            <section class="stage">
                if sharing {
                    <p class="sharing" role="status">{ text.sharing_notice }</p>
                }
                { for screens }
                <div class={classes!("grid", format!("n{}", count.min(25)), (count >= DENSE).then_some("dense"))}>
                    { own_tile }
                    { for remote_tiles }
                </div>
                if view.participants.is_empty() {
                    <p class="alone">{ text.alone }</p>
                }
            </section>
            <aside class="side">
                if *devices_open {
                    <DevicePanel lang={props.lang} call={props.call.clone()} devices={devices.clone()}
                        in_use={super::devices::in_use(&props.call)}
                        speaker={(*speaker_sink).clone()}
                        on_speaker={let sink = speaker_sink.clone(); Callback::from(move |id: AttrValue| sink.set(Some(id)))} />
                }
                <section class="safety" aria-label={text.safety_code}>
                    <h2>{ text.safety_code }</h2>
                    <p class="code" data-testid="safety-code">{ props.safety_code.clone() }</p>
                    <p class="hint">{ text.safety_code_hint }</p>
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
                                html! { <li><b>{ who }{ ": " }</b>{ line.text.clone() }</li> }
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
                on_chat={toggle_chat} {on_leave} />
        </main>
    }
}
