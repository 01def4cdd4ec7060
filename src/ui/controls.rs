//! The meeting's control bar: microphone, camera, screen share, devices, chat and leave, each
//! an icon with its label, and a state that reads at a glance. A toggle's `aria-pressed` says
//! whether the thing is on (pressed: the microphone is on), the icon is struck through and the
//! button tinted when it is off, and the tooltip names the shortcut.
//!
//! "You are muted": while the microphone is muted, its level is still measured here, on a copy
//! of the track that stays in this page (the muted track itself gives silence), and a hint
//! shows when you talk. The copy is stopped as soon as the microphone is unmuted, changes or
//! the bar goes. This component holds no call state of its own: the room hands it the states
//! and the callbacks.

use wasm_bindgen::JsCast;
use web_sys::MediaStreamTrack;
use yew::prelude::*;

use super::icons::{icon, Icon};
use crate::call::media::LevelMeter;
use crate::i18n::Lang;

/// Level (0 to 1) above which a muted microphone counts as talking.
const TALKING: f64 = 0.08;
/// How long the hint stays after the last sound: long enough to read, and steady between
/// words.
const HOLD_MS: f64 = 3_000.0;

/// Props of the control bar.
#[derive(Properties, PartialEq)]
pub struct Props {
    /// Language.
    pub lang: Lang,
    /// Microphone on (not muted).
    pub mic_on: bool,
    /// Our microphone track, muted or not (none: listen-only).
    pub mic_track: Option<MediaStreamTrack>,
    /// Camera on.
    pub camera_on: bool,
    /// Sharing the screen.
    pub sharing: bool,
    /// The device pickers are open.
    pub devices_open: bool,
    /// The chat is offered (`chat=off` hides its button).
    pub chat_offered: bool,
    /// The chat is open.
    pub chat_open: bool,
    /// Chat messages not yet seen.
    pub unread: usize,
    /// The buttons, in order.
    pub on_mic: Callback<MouseEvent>,
    /// Camera.
    pub on_camera: Callback<MouseEvent>,
    /// Screen share.
    pub on_screen: Callback<MouseEvent>,
    /// Devices.
    pub on_devices: Callback<MouseEvent>,
    /// Chat.
    pub on_chat: Callback<MouseEvent>,
    /// Leave.
    pub on_leave: Callback<MouseEvent>,
    /// The side panel (a sheet on a phone) is open.
    pub panel_open: bool,
    /// Opens or closes it (the button shows on narrow screens only).
    pub on_panel: Callback<MouseEvent>,
    /// The speaker view is on.
    pub speaker_view: bool,
    /// Switches between the speaker view and the grid.
    pub on_speaker_view: Callback<MouseEvent>,
}

/// Whether the user talks into a muted microphone: measured on a copy of `track` while muted.
#[hook]
fn use_talking_while_muted(track: Option<MediaStreamTrack>, muted: bool) -> bool {
    let talking = use_state(|| false);
    {
        let talking = talking.clone();
        let watched = track.filter(|_| muted);
        use_effect_with(watched, move |watched| {
            // JavaScript's `clone()`: a second, enabled track of the same microphone, for the
            // meter only; it goes nowhere.
            #[allow(clippy::disallowed_methods)]
            let copy = watched.as_ref().map(|track| {
                let copy = track.clone();
                copy.set_enabled(true);
                copy
            });
            let mut meter = copy.as_ref().and_then(LevelMeter::new);
            let measuring = meter.is_some();
            let tick = {
                let talking = talking.clone();
                let mut last_heard = f64::NEG_INFINITY;
                wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
                    if let Some(meter) = meter.as_mut() {
                        let now = js_sys::Date::now();
                        if meter.level() > TALKING {
                            last_heard = now;
                        }
                        talking.set(now - last_heard < HOLD_MS);
                    }
                })
            };
            let window = web_sys::window().filter(|_| measuring);
            let timer = window.as_ref().and_then(|w| {
                w.set_interval_with_callback_and_timeout_and_arguments_0(
                    tick.as_ref().unchecked_ref(),
                    150,
                )
                .ok()
            });
            move || {
                if let (Some(window), Some(timer)) = (window, timer) {
                    window.clear_interval_with_handle(timer);
                }
                drop(tick);
                if let Some(copy) = copy {
                    copy.stop();
                }
                talking.set(false);
            }
        });
    }
    *talking
}

/// The control bar.
#[function_component]
pub fn Controls(props: &Props) -> Html {
    let text = props.lang.text();
    let talking_muted = use_talking_while_muted(props.mic_track.clone(), !props.mic_on);
    let chat_aria = if props.unread > 0 {
        format!("{}, {} {}", text.chat, props.unread, text.unread)
    } else {
        text.chat.to_owned()
    };
    let state = |on: bool| classes!("control", (!on).then_some("off"));
    html! {
        <nav class="controls">
            if talking_muted {
                <p class="muted-hint" role="status" data-testid="muted-hint">{ text.talking_muted }</p>
            }
            <button class={state(props.mic_on)} onclick={props.on_mic.clone()}
                aria-pressed={props.mic_on.to_string()} data-testid="toggle-mic"
                title={format!("{} (m)", if props.mic_on { text.microphone } else { text.muted })}>
                { icon(if props.mic_on { Icon::Mic } else { Icon::MicOff }) }
                <span class="label">{ text.microphone }</span>
            </button>
            <button class={state(props.camera_on)} onclick={props.on_camera.clone()}
                aria-pressed={props.camera_on.to_string()} data-testid="toggle-camera"
                title={format!("{} (v)", text.camera)}>
                { icon(if props.camera_on { Icon::Camera } else { Icon::CameraOff }) }
                <span class="label">{ text.camera }</span>
            </button>
            <button class="control" onclick={props.on_screen.clone()} aria-pressed={props.sharing.to_string()}
                data-testid="toggle-screen" title={if props.sharing { text.stop_sharing } else { text.share_screen }}>
                { icon(Icon::Screen) }
                <span class="label">{ if props.sharing { text.stop_sharing } else { text.share_screen } }</span>
            </button>
            <button class="control" onclick={props.on_devices.clone()} aria-expanded={props.devices_open.to_string()}
                data-testid="toggle-devices" title={text.devices}>
                { icon(Icon::Devices) }
                <span class="label">{ text.devices }</span>
            </button>
            if props.chat_offered {
                <button class="control" onclick={props.on_chat.clone()} data-testid="toggle-chat"
                    aria-expanded={props.chat_open.to_string()} aria-label={chat_aria}
                    title={format!("{} (c)", text.chat)}>
                    { icon(Icon::Chat) }
                    <span class="label">{ text.chat }</span>
                    if props.unread > 0 {
                        <span class="unread" aria-hidden="true">{ props.unread }</span>
                    }
                </button>
            }
            <button class="control layout" onclick={props.on_speaker_view.clone()}
                aria-pressed={props.speaker_view.to_string()} data-testid="toggle-layout"
                title={text.speaker_view}>
                { icon(if props.speaker_view { Icon::GridView } else { Icon::SpeakerView }) }
                <span class="label">{ text.speaker_view }</span>
            </button>
            <button class="control panel" onclick={props.on_panel.clone()}
                aria-expanded={props.panel_open.to_string()} aria-controls="side-panel"
                data-testid="toggle-panel" title={text.panel}>
                { icon(Icon::People) }
                <span class="label">{ text.panel }</span>
            </button>
            <button class="control leave" onclick={props.on_leave.clone()} data-testid="leave"
                title={format!("{} (Shift+L)", text.leave)}>
                { icon(Icon::Leave) }
                <span class="label">{ text.leave }</span>
            </button>
        </nav>
    }
}
