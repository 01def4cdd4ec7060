//! The local camera and microphone: asking for them, and what went wrong when the answer is no.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{MediaStream, MediaStreamConstraints, MediaStreamTrack};

/// Why the camera or microphone is not available.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MediaError {
    /// The user or the browser said no.
    Denied,
    /// No such device.
    NotFound,
    /// The device is there but busy or failing.
    Unavailable,
}

/// The local tracks the user chose to share (either may be absent: listen-only works).
#[derive(Clone, Default, PartialEq)]
pub struct LocalMedia {
    /// Microphone.
    pub audio: Option<MediaStreamTrack>,
    /// Camera.
    pub video: Option<MediaStreamTrack>,
}

impl LocalMedia {
    /// Stops every track (the camera light goes off).
    pub fn stop(&self) {
        for track in self.audio.iter().chain(self.video.iter()) {
            track.stop();
        }
    }
}

/// Asks for the microphone and/or camera. Device labels and ids never leave this module.
pub async fn open(audio: bool, video: bool) -> Result<LocalMedia, MediaError> {
    if !audio && !video {
        return Ok(LocalMedia::default());
    }
    let devices = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .ok_or(MediaError::Unavailable)?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio.into());
    if video {
        let size = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&size, &"width".into(), &1280.into());
        let _ = js_sys::Reflect::set(&size, &"height".into(), &720.into());
        constraints.set_video(&size);
    } else {
        constraints.set_video(&false.into());
    }
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|_| MediaError::Unavailable)?;
    let stream: MediaStream = match JsFuture::from(promise).await {
        Ok(stream) => stream.unchecked_into(),
        Err(error) => {
            let name = js_sys::Reflect::get(&error, &"name".into())
                .ok()
                .and_then(|n| n.as_string())
                .unwrap_or_default();
            return Err(match name.as_str() {
                "NotAllowedError" | "SecurityError" => MediaError::Denied,
                "NotFoundError" | "OverconstrainedError" => MediaError::NotFound,
                _ => MediaError::Unavailable,
            });
        }
    };
    let first = |tracks: js_sys::Array| tracks.get(0).dyn_into::<MediaStreamTrack>().ok();
    Ok(LocalMedia {
        audio: first(stream.get_audio_tracks()),
        video: first(stream.get_video_tracks()),
    })
}
