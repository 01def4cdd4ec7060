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

/// Which device to open for one kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// None of this kind.
    Off,
    /// The browser's default.
    Default,
    /// This device id (from [`devices`]).
    Id(String),
}

impl Device {
    fn constraint(&self, video: bool) -> wasm_bindgen::JsValue {
        let object = js_sys::Object::new();
        if video {
            let _ = js_sys::Reflect::set(&object, &"width".into(), &1280.into());
            let _ = js_sys::Reflect::set(&object, &"height".into(), &720.into());
        }
        match self {
            Device::Off => return false.into(),
            Device::Default => {}
            Device::Id(id) => {
                let exact = js_sys::Object::new();
                let _ = js_sys::Reflect::set(&exact, &"exact".into(), &id.into());
                let _ = js_sys::Reflect::set(&object, &"deviceId".into(), &exact);
            }
        }
        object.into()
    }
}

/// A camera, microphone or speaker, for the pickers. Stays in this browser: never sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `audioinput`, `videoinput` or `audiooutput`.
    pub kind: String,
    /// The browser's id for it.
    pub id: String,
    /// Its name (empty before permission is given).
    pub label: String,
}

/// The id of the device `track` comes from, as the browser lists it ([`devices`]): what a
/// picker shows as in use. `None` if the browser does not say.
pub fn device_id(track: &MediaStreamTrack) -> Option<String> {
    track
        .get_settings()
        .get_device_id()
        .filter(|id| !id.is_empty())
}

/// Whether the device `track` comes from has gone (unplugged, or taken by the system): the
/// track ended by itself, or the browser no longer lists its device among `listed`. An empty
/// list says nothing (the browser may hide its devices) and counts as no loss.
pub fn is_lost(track: &MediaStreamTrack, listed: &[DeviceInfo]) -> bool {
    if track.ready_state() == web_sys::MediaStreamTrackState::Ended {
        return true;
    }
    let kind = format!("{}input", track.kind());
    match device_id(track) {
        Some(id) if !listed.is_empty() => !listed.iter().any(|d| d.kind == kind && d.id == id),
        _ => false,
    }
}

/// The devices the browser lists.
pub async fn devices() -> Vec<DeviceInfo> {
    let Some(media) = web_sys::window().and_then(|w| w.navigator().media_devices().ok()) else {
        return Vec::new();
    };
    let Ok(promise) = media.enumerate_devices() else {
        return Vec::new();
    };
    let Ok(list) = JsFuture::from(promise).await else {
        return Vec::new();
    };
    let field = |d: &wasm_bindgen::JsValue, name: &str| {
        js_sys::Reflect::get(d, &name.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    js_sys::Array::from(&list)
        .iter()
        .map(|d| DeviceInfo {
            kind: field(&d, "kind"),
            id: field(&d, "deviceId"),
            label: field(&d, "label"),
        })
        .filter(|d| !d.id.is_empty())
        .collect()
}

/// Asks for the chosen microphone and camera. Device labels and ids never leave the browser.
pub async fn open_devices(audio: &Device, video: &Device) -> Result<LocalMedia, MediaError> {
    if *audio == Device::Off && *video == Device::Off {
        return Ok(LocalMedia::default());
    }
    let devices = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .ok_or(MediaError::Unavailable)?;
    let constraints = MediaStreamConstraints::new();
    constraints.set_audio(&audio.constraint(false));
    constraints.set_video(&video.constraint(true));
    let promise = devices
        .get_user_media_with_constraints(&constraints)
        .map_err(|_| MediaError::Unavailable)?;
    let stream: MediaStream = match JsFuture::from(promise).await {
        Ok(stream) => {
            crate::timeline::mark(crate::timeline::Milestone::DevicesOpen);
            stream.unchecked_into()
        }
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

/// The microphone's level, 0 to 1, for the lobby's meter: WebAudio reading the track.
pub struct LevelMeter {
    context: web_sys::AudioContext,
    analyser: web_sys::AnalyserNode,
    samples: Vec<f32>,
}

impl LevelMeter {
    /// Starts measuring `track`.
    pub fn new(track: &MediaStreamTrack) -> Option<LevelMeter> {
        let context = web_sys::AudioContext::new().ok()?;
        let _ = context.resume();
        let stream = MediaStream::new_with_tracks(&js_sys::Array::of1(track)).ok()?;
        let source = context.create_media_stream_source(&stream).ok()?;
        let analyser = context.create_analyser().ok()?;
        source.connect_with_audio_node(&analyser).ok()?;
        let samples = vec![0.0; analyser.fft_size() as usize];
        Some(LevelMeter {
            context,
            analyser,
            samples,
        })
    }

    /// The level now: the RMS of the latest samples, scaled so speech fills the meter.
    pub fn level(&mut self) -> f64 {
        self.analyser.get_float_time_domain_data(&mut self.samples);
        let sum: f32 = self.samples.iter().map(|x| x * x).sum();
        let rms = (sum / self.samples.len().max(1) as f32).sqrt();
        f64::from(rms * 4.0).min(1.0)
    }
}

impl Drop for LevelMeter {
    fn drop(&mut self) {
        let _ = self.context.close();
    }
}

/// Asks to share a screen or window (the browser shows its own picker).
pub async fn share_screen() -> Result<MediaStreamTrack, MediaError> {
    let devices = web_sys::window()
        .and_then(|w| w.navigator().media_devices().ok())
        .ok_or(MediaError::Unavailable)?;
    let promise = devices
        .get_display_media()
        .map_err(|_| MediaError::Unavailable)?;
    let stream: MediaStream = JsFuture::from(promise)
        .await
        .map_err(|_| MediaError::Denied)?
        .unchecked_into();
    stream
        .get_video_tracks()
        .get(0)
        .dyn_into::<MediaStreamTrack>()
        .map_err(|_| MediaError::NotFound)
}
