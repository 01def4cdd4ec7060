//! Devices in the meeting: pickers for the microphone, camera and speaker that switch without
//! leaving (the call puts the new track on the same protected sender, see
//! `Call::use_device`), and following a device that goes away (`devicechange`): the one in use
//! is replaced by the default and the user is told.
//!
//! What this module does not do: open tracks itself or touch the peer connection; the call
//! does both, under its rule that a sender gets a track only once its encryption is in place.

use std::rc::Rc;

use veilig_protocol::Source;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use super::device_picker::DevicePicker;
use crate::call::media::{self, Device, DeviceInfo};
use crate::call::session::Call;
use crate::i18n::Lang;

/// The browser's device list, kept fresh on every `devicechange`; after each change a
/// microphone or camera whose device went away is replaced by the default. Returns the list
/// and whether a device was lost (until `dismissed` is called).
#[hook]
pub fn use_followed_devices(call: &Call) -> (Rc<Vec<DeviceInfo>>, UseStateHandle<bool>) {
    let devices = use_state(|| Rc::new(Vec::<DeviceInfo>::new()));
    let lost = use_state(|| false);
    {
        let (devices, lost) = (devices.clone(), lost.clone());
        use_effect_with(call.clone(), move |call| {
            let refresh = {
                let call = call.clone();
                Rc::new(move |follow: bool| {
                    let (call, devices, lost) = (call.clone(), devices.clone(), lost.clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        let listed = media::devices().await;
                        if follow && follow_lost(&call, &listed) {
                            lost.set(true);
                        }
                        devices.set(Rc::new(listed));
                    });
                })
            };
            refresh(false);
            let listener = {
                let refresh = refresh.clone();
                Closure::<dyn FnMut()>::new(move || refresh(true))
            };
            let target = web_sys::window().and_then(|w| w.navigator().media_devices().ok());
            if let Some(target) = &target {
                let _ = target.add_event_listener_with_callback(
                    "devicechange",
                    listener.as_ref().unchecked_ref(),
                );
            }
            move || {
                if let Some(target) = target {
                    let _ = target.remove_event_listener_with_callback(
                        "devicechange",
                        listener.as_ref().unchecked_ref(),
                    );
                }
            }
        });
    }
    ((*devices).clone(), lost)
}

/// Moves each open microphone or camera whose device is gone to the default device. Returns
/// whether any was.
fn follow_lost(call: &Call, listed: &[DeviceInfo]) -> bool {
    let local = call.local_media();
    let mut any = false;
    for (source, track) in [
        (Source::Microphone, local.audio),
        (Source::Camera, local.video),
    ] {
        if track.is_some_and(|track| media::is_lost(&track, listed)) {
            call.use_device(source, Device::Default);
            any = true;
        }
    }
    any
}

/// The devices `call`'s microphone and camera tracks come from now.
pub fn in_use(call: &Call) -> (Option<String>, Option<String>) {
    let local = call.local_media();
    (
        local.audio.as_ref().and_then(media::device_id),
        local.video.as_ref().and_then(media::device_id),
    )
}

/// Props of the device pickers.
#[derive(Properties, PartialEq)]
pub struct Props {
    /// Language.
    pub lang: Lang,
    /// The call whose devices these are.
    pub call: Call,
    /// The browser's devices.
    pub devices: Rc<Vec<DeviceInfo>>,
    /// The devices the microphone and camera tracks come from now (see [`in_use`]).
    pub in_use: (Option<String>, Option<String>),
    /// Where audio plays now (an `audiooutput` id), if not the default.
    pub speaker: Option<AttrValue>,
    /// Another speaker was picked.
    pub on_speaker: Callback<AttrValue>,
}

/// The pickers, shown in the meeting's side panel.
#[function_component]
pub fn DevicePanel(props: &Props) -> Html {
    let text = props.lang.text();
    let (mic_in_use, camera_in_use) = props.in_use.clone();
    let pick = |source: Source| {
        let call = props.call.clone();
        Callback::from(move |id: String| call.use_device(source, Device::Id(id)))
    };
    let speaker_in_use = props.speaker.as_ref().map(|s| s.to_string()).or_else(|| {
        props
            .devices
            .iter()
            .find(|d| d.kind == "audiooutput" && d.id == "default")
            .map(|d| d.id.clone())
    });
    let outputs = props.devices.iter().any(|d| d.kind == "audiooutput");
    let on_speaker = {
        let on_speaker = props.on_speaker.clone();
        Callback::from(move |id: String| on_speaker.emit(AttrValue::from(id)))
    };
    html! {
        <section class="devices" aria-label={text.devices} data-testid="devices">
            <h2>{ text.devices }</h2>
            <span class="picker-label">{ text.microphone }</span>
            <DevicePicker kind="audioinput" devices={props.devices.clone()} in_use={mic_in_use}
                label={text.microphone} testid="meeting-mic-select" on_pick={pick(Source::Microphone)} />
            <span class="picker-label">{ text.camera }</span>
            <DevicePicker kind="videoinput" devices={props.devices.clone()} in_use={camera_in_use}
                label={text.camera} testid="meeting-camera-select" on_pick={pick(Source::Camera)} />
            if outputs && super::lobby::can_pick_speaker() {
                <span class="picker-label">{ text.speaker }</span>
                <DevicePicker kind="audiooutput" devices={props.devices.clone()} in_use={speaker_in_use}
                    label={text.speaker} testid="meeting-speaker-select" on_pick={on_speaker} />
            }
        </section>
    }
}
