//! The lobby: camera preview, microphone and camera on or off, display name, the meeting
//! passphrase when the link asks for one, and what is encrypted. Joining without any device
//! (listen-only) works; a denied permission says how to fix it. The link's options
//! (`crate::link_options`: `name=`, `mic=off`, `camera=off`, `lobby=skip`) preset it.

use veilig_e2ee::{InviteLink, RoomKeys};
use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::call::media::{self, Device, DeviceInfo, LevelMeter, LocalMedia, MediaError};
use crate::call::metadata::MAX_NAME_CHARS;
use crate::i18n::Lang;
use crate::link_options::LinkOptions;

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
fn can_pick_speaker() -> bool {
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
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

/// The lobby.
#[function_component]
pub fn Lobby(props: &Props) -> Html {
    let text = props.lang.text();
    let media = use_state(|| None::<Result<LocalMedia, MediaError>>);
    let options = use_memo(props.link.clone(), |link| {
        LinkOptions::parse(link.options())
    });
    let mic = use_state(|| !options.mic_off);
    let camera = use_state(|| !options.camera_off);
    let preparing = use_state(|| false);
    let name_ref = use_node_ref();
    let remember_ref = use_node_ref();
    let pass_ref = use_node_ref();
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
    let passphrase_missing = use_state(|| false);
    let devices = use_state(Vec::<DeviceInfo>::new);
    let level = use_state(|| 0u8);
    let opened = use_mut_ref(LocalMedia::default);
    {
        // (Re)opens the chosen devices; the previous tracks are stopped first.
        let media = media.clone();
        let devices = devices.clone();
        let opened = opened.clone();
        use_effect_with(
            ((*mic_device).clone(), (*cam_device).clone()),
            move |(mic, cam)| {
                let (mic, cam) = (mic.clone(), cam.clone());
                opened.borrow().stop();
                wasm_bindgen_futures::spawn_local(async move {
                    let result = match media::open_devices(&mic, &cam).await {
                        Ok(local) => Ok(local),
                        // A machine without a camera may still have a microphone.
                        Err(MediaError::NotFound) => media::open_devices(&mic, &Device::Off).await,
                        Err(other) => Err(other),
                    };
                    if let Ok(local) = &result {
                        *opened.borrow_mut() = local.clone();
                    }
                    media.set(Some(result));
                    devices.set(media::devices().await);
                });
            },
        );
    }
    {
        // The microphone meter: WebAudio on the current microphone track, ten times a second.
        let level = level.clone();
        let track = match &*media {
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
            move || {
                if let (Some(window), Some(timer)) = (window, timer) {
                    window.clear_interval_with_handle(timer);
                }
                drop(tick);
            }
        });
    }
    let picker = |kind: &str,
                  state: UseStateHandle<Device>,
                  testid: &'static str,
                  label: &'static str| {
        let options: Vec<&DeviceInfo> = devices.iter().filter(|d| d.kind == kind).collect();
        let selected = match &*state {
            Device::Id(id) => id.clone(),
            _ => String::new(),
        };
        let onchange = Callback::from(move |event: Event| {
            if let Some(select) = event.target_dyn_into::<HtmlSelectElement>() {
                state.set(Device::Id(select.value()));
            }
        });
        html! {
            <select {onchange} aria-label={label} data-testid={testid}>
                { for options.iter().enumerate().map(|(i, d)| {
                    let label = if d.label.is_empty() { format!("{} {}", kind, i + 1) } else { d.label.clone() };
                    html! { <option value={d.id.clone()} selected={d.id == selected}>{ label }</option> }
                }) }
            </select>
        }
    };
    let mic_picker = picker(
        "audioinput",
        mic_device.clone(),
        "mic-select",
        text.microphone,
    );
    let cam_picker = picker(
        "videoinput",
        cam_device.clone(),
        "camera-select",
        text.camera,
    );
    let outputs = devices.iter().filter(|d| d.kind == "audiooutput").count();
    let speaker_picker = (outputs > 0 && can_pick_speaker()).then(|| {
        picker(
            "audiooutput",
            speaker.clone(),
            "speaker-select",
            text.speaker,
        )
    });
    let toggle = |state: UseStateHandle<bool>| Callback::from(move |_: Event| state.set(!*state));

    let join = {
        let media = media.clone();
        let (mic, camera, preparing) = (mic.clone(), camera.clone(), preparing.clone());
        let chosen = ((*mic_device).clone(), (*cam_device).clone());
        let speaker = match &*speaker {
            Device::Id(id) => Some(id.clone()),
            _ => None,
        };
        let passphrase_missing = passphrase_missing.clone();
        let (name_ref, remember_ref, pass_ref) =
            (name_ref.clone(), remember_ref.clone(), pass_ref.clone());
        let link = props.link.clone();
        let on_join = props.on_join.clone();
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
            if link.passphrase_required() && passphrase.is_empty() {
                passphrase_missing.set(true);
                if let Some(field) = pass_ref.cast::<web_sys::HtmlElement>() {
                    let _ = field.focus();
                }
                return;
            }
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
            let mut local = match &*media {
                Some(Ok(local)) => local.clone(),
                _ => LocalMedia::default(),
            };
            if !*mic {
                if let Some(track) = local.audio.take() {
                    track.stop();
                }
            }
            if !*camera {
                if let Some(track) = local.video.take() {
                    track.stop();
                }
            }
            let link = link.clone();
            let on_join = on_join.clone();
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

    let preview = match &*media {
        Some(Ok(LocalMedia {
            video: Some(track), ..
        })) if *camera => html! {
            <super::media_element::MediaElement track={Clone::clone(track)} local=true testid="preview" />
        },
        _ => html! { <div class="preview-off" /> },
    };
    let problem = match &*media {
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
                <label>
                    <input type="checkbox" checked={*mic} onchange={toggle(mic.clone())}
                        data-testid="lobby-mic" />
                    { text.microphone }
                </label>
                { mic_picker }
                <meter min="0" max="100" value={level.to_string()} aria-label={text.microphone}
                    data-testid="mic-level" />
                <label>
                    <input type="checkbox" checked={*camera} onchange={toggle(camera.clone())}
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
                    <p class="hint">{ text.passphrase_hint }</p>
                    <label for="passphrase">{ text.passphrase }</label>
                    <input id="passphrase" ref={pass_ref} type="password" autocomplete="off"
                        aria-invalid={passphrase_missing.to_string()} data-testid="passphrase" />
                    if *passphrase_missing {
                        <p class="error" role="alert" data-testid="passphrase-missing">
                            { text.passphrase_missing }
                        </p>
                    }
                }
                <button class="primary" type="submit" disabled={*preparing || media.is_none()}
                    data-testid="join">
                    { if *preparing { text.preparing } else { text.join } }
                </button>
            </form>
        </main>
    }
}
