//! The lobby's camera and microphone: exactly the devices that are ticked are open, and
//! unticking one stops its track at once (the camera light goes out, the meter stops), before
//! anything is joined. For a product that sells privacy, "off" means the device is released.
//!
//! Each kind is opened when it is wanted and on the device picked for it, and stopped as soon
//! as it is not; the other kind is left running, so switching the camera does not interrupt
//! the microphone. Asking for both at first is one `getUserMedia` (one permission prompt). An
//! answer that arrives after the wish changed again is stopped on arrival. What this hook does
//! not do: keep tracks past the lobby (the meeting takes them over) or list devices for
//! anything but the pickers.

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use crate::call::media::{self, Device, DeviceInfo, LocalMedia, MediaError};

/// What is open, and for which wish.
#[derive(Default)]
struct Open {
    local: LocalMedia,
    mic: Option<Device>,
    camera: Option<Device>,
}

/// The lobby's media: `None` until the devices first answered.
pub type LobbyMedia = Option<Result<LocalMedia, MediaError>>;

/// Keeps open exactly `mic` and `camera` ([`Device::Off`] for an unticked kind). Returns the
/// tracks now open (or why none could be) and the browser's device list.
#[hook]
pub fn use_lobby_media(mic: Device, camera: Device) -> (LobbyMedia, Rc<Vec<DeviceInfo>>) {
    let media = use_state(|| None::<Result<LocalMedia, MediaError>>);
    let devices = use_state(|| Rc::new(Vec::<DeviceInfo>::new()));
    let open = use_mut_ref(Open::default);
    {
        let (media, devices) = (media.clone(), devices.clone());
        use_effect_with((mic, camera), move |(mic, camera)| {
            let (ask_mic, ask_camera) = stop_unwanted(&open, mic, camera);
            if let Some(Ok(_)) = &*media {
                media.set(Some(Ok(open.borrow().local.clone())));
            }
            if ask_mic == Device::Off && ask_camera == Device::Off {
                if media.is_none() {
                    media.set(Some(Ok(LocalMedia::default())));
                    wasm_bindgen_futures::spawn_local(async move {
                        devices.set(Rc::new(media::devices().await));
                    });
                }
                return;
            }
            wasm_bindgen_futures::spawn_local(async move {
                let result = match media::open_devices(&ask_mic, &ask_camera).await {
                    // A machine without a camera may still have a microphone.
                    Err(MediaError::NotFound) if ask_camera != Device::Off => {
                        media::open_devices(&ask_mic, &Device::Off).await
                    }
                    other => other,
                };
                {
                    let mut guard = open.borrow_mut();
                    let open = &mut *guard;
                    match result {
                        Ok(opened) => {
                            keep_if_wanted(
                                &mut open.local.audio,
                                opened.audio,
                                &open.mic,
                                &ask_mic,
                            );
                            keep_if_wanted(
                                &mut open.local.video,
                                opened.video,
                                &open.camera,
                                &ask_camera,
                            );
                            media.set(Some(Ok(open.local.clone())));
                        }
                        // Nothing open at all: say why (listen-only still works).
                        Err(error) if open.local == LocalMedia::default() => {
                            media.set(Some(Err(error)))
                        }
                        Err(_) => media.set(Some(Ok(open.local.clone()))),
                    }
                }
                devices.set(Rc::new(media::devices().await));
            });
        });
    }
    ((*media).clone(), (*devices).clone())
}

/// Stops each kind whose wish changed (at once, before anything else) and returns what to
/// open now: the new wish for those kinds, [`Device::Off`] for the others.
fn stop_unwanted(open: &Rc<RefCell<Open>>, mic: &Device, camera: &Device) -> (Device, Device) {
    let mut open = open.borrow_mut();
    let Open {
        local,
        mic: open_mic,
        camera: open_camera,
    } = &mut *open;
    let ask = |slot: &mut Option<web_sys::MediaStreamTrack>,
               for_wish: &mut Option<Device>,
               wish: &Device| {
        if for_wish.as_ref() == Some(wish) {
            return Device::Off;
        }
        if let Some(track) = slot.take() {
            track.stop();
        }
        *for_wish = Some(wish.clone());
        wish.clone()
    };
    (
        ask(&mut local.audio, open_mic, mic),
        ask(&mut local.video, open_camera, camera),
    )
}

/// Keeps a track that arrived if it answers the wish still standing for its kind and nothing
/// else took that place meanwhile; stops it otherwise.
fn keep_if_wanted(
    slot: &mut Option<web_sys::MediaStreamTrack>,
    arrived: Option<web_sys::MediaStreamTrack>,
    wish: &Option<Device>,
    asked: &Device,
) {
    let Some(track) = arrived else { return };
    if *asked != Device::Off && wish.as_ref() == Some(asked) && slot.is_none() {
        *slot = Some(track);
    } else {
        track.stop();
    }
}
