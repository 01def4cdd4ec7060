//! The lobby: camera preview, microphone and camera on or off (off releases the device at
//! once, see [`media`]), pickers that show the device in use, display name, the meeting
//! passphrase when the link asks for one, and what is encrypted. Joining without any device
//! (listen-only) works; a denied permission says how to fix it. The link's options
//! (`crate::link_options`: `name=`, `mic=off`, `camera=off`, `lobby=skip`) preset it.
//!
//! Passphrases: whoever creates a passphrase meeting chooses it here, typed twice. A guest
//! types it once; the meeting page keeps this lobby on screen while the relay checks the room
//! access value derived from link and passphrase, and a refusal comes back here
//! ([`Props::refusals`]) with the field emptied to type it again, devices and name untouched.

mod media;

use veilig_e2ee::{InviteLink, RoomKeys};
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::call::media::{self as call_media, Device, LevelMeter, LocalMedia, MediaError};
use crate::call::metadata::MAX_NAME_CHARS;
use crate::i18n::Lang;
use crate::link_options::LinkOptions;
use crate::ui::device_picker::DevicePicker;
use media::use_lobby_media;

const NAME_KEY: &str = "veilig.name";

/// What the lobby hands to the meeting.
pub struct Ready {
    /// Keys from the link (and passphrase).
    pub keys: RoomKeys,
    /// The tracks to send.
    pub media: LocalMedia,
    /// Display name.
    pub name: String,
    /// The chosen microphone and camera, to open again if turned on later.
    pub devices: (Device, Device),
    /// The chosen speaker (an `audiooutput` id), if not the default.
    pub speaker: Option<String>,
}

/// Whether this browser can pick where audio plays (`HTMLMediaElement.setSinkId`).
pub(super) fn can_pick_speaker() -> bool {
    js_sys::Reflect::get(&js_sys::global(), &"HTMLMediaElement".into())
        .and_then(|class| js_sys::Reflect::get(&class, &"prototype".into()))
        .and_then(|prototype| js_sys::Reflect::has(&prototype, &"setSinkId".into()))
        .unwrap_or(false)
}

/// Props of the lobby.
#[derive(Properties, PartialEq)]
pub struct Props {
    /// Language.
    pub lang: Lang,
    /// The link (secret inside).
    pub link: std::rc::Rc<InviteLink>,
    /// Called once the keys are derived and the user joins.
    pub on_join: Callback<Ready>,
    /// In a frame of a site the relay lets embed it (its `frame-ancestors`), with the
    /// embedding API installed: `lobby=skip` may then join with devices on.
    #[prop_or_default]
    pub embedded: bool,
    /// This browser just created the meeting (and so chooses its passphrase, typed twice).
    #[prop_or_default]
    pub new_meeting: bool,
    /// The relay is checking this link and passphrase: the join is under way.
    #[prop_or_default]
    pub checking: bool,
    /// How often the relay refused this link and passphrase; each refusal empties the
    /// passphrase field and says it was wrong.
    #[prop_or_default]
    pub refusals: u32,
    /// The invite link to hand out, offered to copy to whoever just created the meeting.
    #[prop_or_default]
    pub invite: AttrValue,
}

/// Why the passphrase typed will not do.
#[derive(Clone, Copy, PartialEq)]
enum PassphraseProblem {
    Missing,
    Mismatch,
    Wrong,
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The lobby.
#[function_component]
pub fn Lobby(props: &Props) -> Html {
    let text = props.lang.text();
    let options = use_memo(props.link.clone(), |link| {
        LinkOptions::parse(link.options())
    });
    let mic = use_state(|| !options.mic_off);
    let camera = use_state(|| !options.camera_off);
    let preparing = use_state(|| false);
    let name_ref = use_node_ref();
    let remember_ref = use_node_ref();
    let pass_ref = use_node_ref();
    let repeat_ref = use_node_ref();
    let stored_name = use_memo(options.clone(), |options| {
        options.name.clone().unwrap_or_else(|| {
            storage()
                .and_then(|s| s.get_item(NAME_KEY).ok().flatten())
                .unwrap_or_default()
        })
    });

    {
        // The remembered name is filled in once; a `value` attribute would be re-applied on
        // every render and overwrite what the user typed meanwhile.
        // Likewise the "remember" box: Yew would re-apply `checked` on every render (the
        // meter renders ten times a second) and untick what the user ticked.
        let (name_ref, remember_ref) = (name_ref.clone(), remember_ref.clone());
        let stored_name = stored_name.clone();
        use_effect_with((), move |_| {
            if let Some(input) = name_ref.cast::<HtmlInputElement>() {
                input.set_value(&stored_name);
            }
            if let Some(remember) = remember_ref.cast::<HtmlInputElement>() {
                remember.set_checked(!stored_name.is_empty());
            }
        });
    }
    let mic_device = use_state(|| Device::Default);
    let cam_device = use_state(|| Device::Default);
    let speaker = use_state(|| Device::Default);
    let passphrase_problem = use_state(|| None::<PassphraseProblem>);
    let level = use_state(|| 0u8);
    let wanted = |on: bool, device: &Device| if on { device.clone() } else { Device::Off };
    let (media, devices) = use_lobby_media(wanted(*mic, &mic_device), wanted(*camera, &cam_device));
    {
        // The relay refused this passphrase: empty the field and say so, ready to retype.
        let (preparing, problem) = (preparing.clone(), passphrase_problem.clone());
        let pass_ref = pass_ref.clone();
        use_effect_with(props.refusals, move |refusals| {
            if *refusals > 0 {
                preparing.set(false);
                problem.set(Some(PassphraseProblem::Wrong));
                if let Some(field) = pass_ref.cast::<HtmlInputElement>() {
                    field.set_value("");
                    let _ = field.focus();
                }
            }
        });
    }
    {
        // The microphone meter: WebAudio on the current microphone track, ten times a second.
        let level = level.clone();
        let level_zero = level.clone();
        let track = match &media {
            Some(Ok(local)) => local.audio.clone(),
            _ => None,
        };
        use_effect_with(track, move |track| {
            let meter = track.as_ref().and_then(LevelMeter::new);
            let mut meter = meter;
            let tick = wasm_bindgen::closure::Closure::<dyn FnMut()>::new(move || {
                if let Some(meter) = meter.as_mut() {
                    level.set((meter.level() * 100.0) as u8);
                }
            });
            let window = web_sys::window();
            let timer = window.as_ref().and_then(|w| {
                w.set_interval_with_callback_and_timeout_and_arguments_0(
                    tick.as_ref().unchecked_ref(),
                    100,
                )
                .ok()
            });
            let still = level_zero.clone();
            move || {
                if let (Some(window), Some(timer)) = (window, timer) {
                    window.clear_interval_with_handle(timer);
                }
                drop(tick);
                // No track, no sound: the meter stands still at zero.
                still.set(0);
            }
        });
    }
    // From the click on join until the meeting has them (or the passphrase is refused), the
    // tracks belong to the call: the devices are not to be changed meanwhile.
    let handing_over = *preparing || props.checking;
    let in_use = |track: Option<&web_sys::MediaStreamTrack>| track.and_then(call_media::device_id);
    let (audio_track, video_track) = match &media {
        Some(Ok(local)) => (local.audio.clone(), local.video.clone()),
        _ => (None, None),
    };
    let pick = |state: UseStateHandle<Device>| Callback::from(move |id| state.set(Device::Id(id)));
    let mic_picker = html! {
        <DevicePicker kind="audioinput" devices={devices.clone()} in_use={in_use(audio_track.as_ref())}
            label={text.microphone} testid="mic-select" on_pick={pick(mic_device.clone())} disabled={handing_over} />
    };
    let cam_picker = html! {
        <DevicePicker kind="videoinput" devices={devices.clone()} in_use={in_use(video_track.as_ref())}
            label={text.camera} testid="camera-select" on_pick={pick(cam_device.clone())} disabled={handing_over} />
    };
    let outputs = devices.iter().filter(|d| d.kind == "audiooutput").count();
    let speaker_in_use = match &*speaker {
        Device::Id(id) => Some(id.clone()),
        _ => devices
            .iter()
            .find(|d| d.kind == "audiooutput" && d.id == "default")
            .map(|d| d.id.clone()),
    };
    let speaker_picker = (outputs > 0 && can_pick_speaker()).then(|| {
        html! {
            <DevicePicker kind="audiooutput" devices={devices.clone()} in_use={speaker_in_use}
                label={text.speaker} testid="speaker-select" on_pick={pick(speaker.clone())} />
        }
    });
    let toggle = |state: UseStateHandle<bool>| Callback::from(move |_: Event| state.set(!*state));

    let join = {
        let local = match &media {
            Some(Ok(local)) => local.clone(),
            _ => LocalMedia::default(),
        };
        let preparing = preparing.clone();
        let chosen = ((*mic_device).clone(), (*cam_device).clone());
        let speaker = match &*speaker {
            Device::Id(id) => Some(id.clone()),
            _ => None,
        };
        let problem = passphrase_problem.clone();
        let (name_ref, remember_ref, pass_ref, repeat_ref) = (
            name_ref.clone(),
            remember_ref.clone(),
            pass_ref.clone(),
            repeat_ref.clone(),
        );
        let link = props.link.clone();
        let on_join = props.on_join.clone();
        let choosing = props.new_meeting;
        Callback::from(move |()| {
            if *preparing {
                return;
            }
            let value = |node: &NodeRef| {
                node.cast::<HtmlInputElement>()
                    .map(|i| i.value())
                    .unwrap_or_default()
            };
            let passphrase = value(&pass_ref);
            if link.passphrase_required() {
                let repeated = choosing.then(|| value(&repeat_ref));
                let wrong = match (passphrase.is_empty(), repeated) {
                    (true, _) => Some((PassphraseProblem::Missing, &pass_ref)),
                    (false, Some(repeated)) if repeated != passphrase => {
                        Some((PassphraseProblem::Mismatch, &repeat_ref))
                    }
                    _ => None,
                };
                if let Some((why, field)) = wrong {
                    problem.set(Some(why));
                    if let Some(field) = field.cast::<web_sys::HtmlElement>() {
                        let _ = field.focus();
                    }
                    return;
                }
            }
            problem.set(None);
            preparing.set(true);
            let name: String = value(&name_ref)
                .trim()
                .chars()
                .take(MAX_NAME_CHARS)
                .collect();
            let remember = remember_ref
                .cast::<HtmlInputElement>()
                .is_some_and(|i| i.checked());
            if let Some(storage) = storage() {
                if remember {
                    let _ = storage.set_item(NAME_KEY, &name);
                } else {
                    let _ = storage.remove_item(NAME_KEY);
                }
            }
            let link = link.clone();
            let on_join = on_join.clone();
            // Unticked devices are already stopped (see `media`): what is open goes in.
            let local = local.clone();
            let (devices, speaker) = (chosen.clone(), speaker.clone());
            let preparing = preparing.clone();
            wasm_bindgen_futures::spawn_local(async move {
                // Let "deriving keys" render first: a passphrase costs PBKDF2's 600,000 rounds.
                crate::call::peer::sleep(30).await;
                let pass = link.passphrase_required().then_some(passphrase.as_str());
                match RoomKeys::derive(&link, pass) {
                    Ok(keys) => on_join.emit(Ready {
                        keys,
                        media: local,
                        name,
                        devices,
                        speaker,
                    }),
                    // Only an empty passphrase fails, and that is caught above.
                    Err(_) => preparing.set(false),
                }
            });
        })
    };

    let on_submit = {
        let join = join.clone();
        Callback::from(move |event: SubmitEvent| {
            event.prevent_default();
            join.emit(());
        })
    };
    {
        // `lobby=skip`: join once the devices have answered, never past a passphrase prompt, and
        // with the camera or microphone on only inside a verified embed. Any website can send
        // a visitor to a link; it must not get their camera in its meeting without a click.
        let skip = options.skip_lobby
            && !props.link.passphrase_required()
            && (props.embedded || (options.mic_off && options.camera_off));
        let join = join.clone();
        use_effect_with(media.is_some(), move |ready| {
            if skip && *ready {
                join.emit(());
            }
        });
    }

    let copied = use_state(|| false);
    {
        let copied = copied.clone();
        use_effect_with(*copied, move |now| {
            let timer = now.then(|| super::timer::Timeout::new(3_000, move || copied.set(false)));
            move || drop(timer)
        });
    }
    let preview = match &media {
        Some(Ok(LocalMedia {
            video: Some(track), ..
        })) if *camera => html! {
            <super::media_element::MediaElement track={Clone::clone(track)} local=true testid="preview" />
        },
        _ => html! { <div class="preview-off" /> },
    };
    let problem = match &media {
        Some(Err(MediaError::Denied)) => Some(text.media_denied),
        Some(Err(MediaError::NotFound)) => Some(text.media_missing),
        Some(Err(MediaError::Unavailable)) => Some(text.media_missing),
        _ => None,
    };
    html! {
        <main class="lobby" data-testid="lobby">
            <h1>{ text.lobby_title }</h1>
            <div class="preview">{ preview }</div>
            <p class="badge" data-testid="e2ee-badge">{ text.e2ee_badge }</p>
            if let Some(problem) = problem {
                <p class="error" role="alert" data-testid="media-problem">{ problem }{ " " }{ text.listen_only }</p>
            }
            <form onsubmit={on_submit}>
                if props.new_meeting && !props.invite.is_empty() {
                    { invite_copy(text, props.invite.clone(), copied.clone()) }
                }
                <label>
                    <input type="checkbox" checked={*mic} onchange={toggle(mic.clone())} disabled={handing_over}
                        data-testid="lobby-mic" />
                    { text.microphone }
                </label>
                { mic_picker }
                <meter min="0" max="100" value={level.to_string()} aria-label={text.microphone}
                    data-testid="mic-level" />
                <label>
                    <input type="checkbox" checked={*camera} onchange={toggle(camera.clone())} disabled={handing_over}
                        data-testid="lobby-camera" />
                    { text.camera }
                </label>
                { cam_picker }
                if let Some(speaker_picker) = speaker_picker {
                    <span class="picker-label">{ text.speaker }</span>
                    { speaker_picker }
                }
                <label for="name">{ text.your_name }</label>
                <input id="name" ref={name_ref.clone()} type="text" maxlength="64" autocomplete="off"
                    data-testid="name" />
                <label>
                    <input type="checkbox" ref={remember_ref.clone()} data-testid="remember-name" />
                    { text.remember_name }
                </label>
                if props.link.passphrase_required() {
                    <p class="hint">{ if props.new_meeting { text.passphrase_new_hint } else { text.passphrase_hint } }</p>
                    <label for="passphrase">{ if props.new_meeting { text.passphrase_choose } else { text.passphrase } }</label>
                    <input id="passphrase" ref={pass_ref} type="password"
                        autocomplete={if props.new_meeting { "new-password" } else { "off" }}
                        aria-invalid={matches!(*passphrase_problem, Some(PassphraseProblem::Missing | PassphraseProblem::Wrong)).to_string()}
                        aria-describedby="passphrase-problem" data-testid="passphrase" />
                    if props.new_meeting {
                        <label for="passphrase-repeat">{ text.passphrase_repeat }</label>
                        <input id="passphrase-repeat" ref={repeat_ref} type="password" autocomplete="new-password"
                            aria-invalid={(*passphrase_problem == Some(PassphraseProblem::Mismatch)).to_string()}
                            aria-describedby="passphrase-problem" data-testid="passphrase-repeat" />
                    }
                    if let Some(problem) = *passphrase_problem {
                        <p class="error" role="alert" id="passphrase-problem" data-testid={match problem {
                            PassphraseProblem::Missing => "passphrase-missing",
                            PassphraseProblem::Mismatch => "passphrase-mismatch",
                            PassphraseProblem::Wrong => "passphrase-wrong",
                        }}>
                            { match problem {
                                PassphraseProblem::Missing => text.passphrase_missing,
                                PassphraseProblem::Mismatch => text.passphrase_mismatch,
                                PassphraseProblem::Wrong => text.passphrase_wrong,
                            } }
                        </p>
                    }
                }
                <button class="primary" type="submit" disabled={*preparing || props.checking || media.is_none()}
                    data-testid="join">
                    { if props.checking { text.checking } else if *preparing { text.preparing } else { text.join } }
                </button>
            </form>
        </main>
    }
}

/// The invite link with its copy button, for whoever just created the meeting: they can send
/// it before joining. "Link copied" says so for a moment.
fn invite_copy(
    text: &'static crate::i18n::Text,
    invite: AttrValue,
    copied: UseStateHandle<bool>,
) -> Html {
    let copy = {
        let copied = copied.clone();
        let invite = invite.clone();
        Callback::from(move |_: MouseEvent| {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&invite);
                copied.set(true);
            }
        })
    };
    html! {
        <div class="lobby-invite">
            <p class="hint">{ text.invite_hint }</p>
            <input class="invite" type="text" readonly=true value={invite} aria-label={text.copy_link}
                data-testid="lobby-invite-link" />
            <button type="button" onclick={copy} data-testid="lobby-copy-link">
                { if *copied { text.link_copied } else { text.copy_link } }
            </button>
        </div>
    }
}
