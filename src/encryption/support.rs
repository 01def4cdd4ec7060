//! Can this browser encrypt a call, and how: feature detection for the two ways of attaching
//! the frame-crypto worker to WebRTC.
//!
//! 1. [`AttachPath::ScriptTransform`], the standard `RTCRtpScriptTransform` (Firefox 117+,
//!    Safari 15.4+, Chromium 141+): the default.
//! 2. [`AttachPath::EncodedStreams`], Chromium's older `createEncodedStreams()` with
//!    `encodedInsertableStreams: true` on the peer connection, its streams transferred to the
//!    worker. Kept because Chromium has been seen to throw `InvalidStateError` on script
//!    transforms; a user who hits that can choose this path with the link option
//!    `transform=streams`, and the tests run both.
//!
//! A browser with neither cannot join: there is no unencrypted fallback.

use js_sys::Reflect;
use wasm_bindgen::JsValue;

/// How the worker is attached to senders and receivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachPath {
    /// `sender.transform = new RTCRtpScriptTransform(worker, options)`.
    ScriptTransform,
    /// `sender.createEncodedStreams()`, streams posted to the worker.
    EncodedStreams,
}

impl AttachPath {
    /// The link-option value naming this path.
    pub fn option_value(self) -> &'static str {
        match self {
            AttachPath::ScriptTransform => "script",
            AttachPath::EncodedStreams => "streams",
        }
    }

    /// The path named by a link option value.
    pub fn from_option_value(value: &str) -> Option<AttachPath> {
        match value {
            "script" => Some(AttachPath::ScriptTransform),
            "streams" => Some(AttachPath::EncodedStreams),
            _ => None,
        }
    }
}

/// What this browser lacks to encrypt a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// No WebRTC at all.
    NoWebRtc,
    /// No encoded transforms: neither path exists.
    NoEncodedTransforms,
    /// No module workers or no WebCrypto.
    NoWorkerCrypto,
    /// The path the user asked for does not exist here.
    PathMissing(AttachPath),
}

/// The path a link asks for with its `transform=` option (in the fragment, which the server
/// never sees), if any.
pub fn requested_path(fragment: &str) -> Option<AttachPath> {
    fragment
        .trim_start_matches('#')
        .split('&')
        .filter_map(|pair| pair.strip_prefix("transform="))
        .find_map(AttachPath::from_option_value)
}

fn has(object: &JsValue, name: &str) -> bool {
    Reflect::has(object, &JsValue::from_str(name)).unwrap_or(false)
}

fn prototype_has(class: &str, method: &str) -> bool {
    let global = js_sys::global();
    let Ok(constructor) = Reflect::get(&global, &JsValue::from_str(class)) else {
        return false;
    };
    if constructor.is_undefined() {
        return false;
    }
    Reflect::get(&constructor, &JsValue::from_str("prototype"))
        .map(|prototype| has(&prototype, method))
        .unwrap_or(false)
}

/// Whether `path` exists in this browser.
pub fn path_available(path: AttachPath) -> bool {
    match path {
        AttachPath::ScriptTransform => has(&js_sys::global(), "RTCRtpScriptTransform"),
        AttachPath::EncodedStreams => {
            prototype_has("RTCRtpSender", "createEncodedStreams")
                && prototype_has("RTCRtpReceiver", "createEncodedStreams")
        }
    }
}

/// The path to use: `wanted` if given and available, else the standard one, else Chromium's.
pub fn choose(wanted: Option<AttachPath>) -> Result<AttachPath, Unsupported> {
    let global = js_sys::global();
    if !has(&global, "RTCPeerConnection") {
        return Err(Unsupported::NoWebRtc);
    }
    if !has(&global, "Worker") || !has(&global, "crypto") {
        return Err(Unsupported::NoWorkerCrypto);
    }
    if let Some(path) = wanted {
        return if path_available(path) {
            Ok(path)
        } else {
            Err(Unsupported::PathMissing(path))
        };
    }
    [AttachPath::ScriptTransform, AttachPath::EncodedStreams]
        .into_iter()
        .find(|&path| path_available(path))
        .ok_or(Unsupported::NoEncodedTransforms)
}
