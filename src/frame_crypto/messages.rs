//! The messages between the page and the frame-crypto worker, and their JavaScript form.
//!
//! `postMessage` carries structured-cloneable objects; streams and keys cannot go through serde,
//! so each message is read and written field by field here, in one place for both sides.
//!
//! | direction | `type` | fields |
//! |-----------|--------|--------|
//! | page → worker | `key` | `key` (Uint8Array, the room's media base key), `engine` (`auto`, `wasm`, `webcrypto`), `announced` (true: accept remote frames only under announced KIDs) |
//! | page → worker | `announce` | `id` (a receive transform), `kids`: `[[kid, floor], ...]` (decimal strings: the KIDs its sender announced, each with the lowest counter to accept) |
//! | page → worker | `attach` | `options` (below), `readable`, `writable` (transferred: Chromium's `createEncodedStreams`) |
//! | page → worker | `detach` | `id` |
//! | page → worker | `bench` | `sizes` (bytes), `frames` (per size and engine) |
//! | worker → page | `ready` | |
//! | worker → page | `stats` | `transforms`: `[{id, direction, encrypted, decrypted, badTag, replay, unknownFormat, kidCollision, retired, overLimit, unannounced, noKey, unsupportedCodec, otherEpoch, wasm, webcrypto}]` |
//! | worker → page | `error` | `id` (absent if not about one transform), `message` |
//! | worker → page | `bench` | `results`: `[{size, wasmUs, webcryptoUs, autoUs}]` (medians per frame, encrypt + decrypt) |
//!
//! Transform options, the same for `RTCRtpScriptTransform` (its `options`) and `attach`:
//! `{id, direction: "send" | "receive", kind: "audio" | "video", codecs: [[pt, mimeType], ...],
//! kid?}`; `kid` (a decimal string) is the KID a send transform must use: the page announces it
//! to the others in its sealed presence note.
//! The `id` is the page's name for the track; the worker reports counters under it.
//!
//! The link secret never travels here: only the media base key derived from it, and only from
//! the page to its own worker.

use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use super::codec_table::MediaKind;
use super::engine::EnginePolicy;

/// Which way a transform's frames go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Local frames to encrypt.
    Send,
    /// Remote frames to decrypt.
    Receive,
}

impl Direction {
    /// The name in messages: `send` or `receive`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Send => "send",
            Direction::Receive => "receive",
        }
    }

    /// The direction named `name`.
    pub fn from_name(name: &str) -> Option<Direction> {
        match name {
            "send" => Some(Direction::Send),
            "receive" => Some(Direction::Receive),
            _ => None,
        }
    }
}

/// What the page tells the worker about one transform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransformOptions {
    /// The page's id for the track.
    pub id: u32,
    /// Send or receive.
    pub direction: Direction,
    /// Audio or video.
    pub kind: MediaKind,
    /// Payload type → mime type, from the negotiated SDP.
    pub codecs: Vec<(u8, String)>,
    /// The KID a send transform must use (the page announces it); `None`: a random one.
    pub kid: Option<u64>,
}

/// Counters of one transform, reported to the page about once a second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransformStats {
    /// Frames encrypted (send).
    pub encrypted: u64,
    /// Frames decrypted and handed to the decoder (receive).
    pub decrypted: u64,
    /// Dropped: failed authentication.
    pub bad_tag: u64,
    /// Dropped: replayed, or too old for its key's replay window.
    pub replay: u64,
    /// Dropped: not our frame format.
    pub unknown_format: u64,
    /// Dropped: another sender's key.
    pub kid_collision: u64,
    /// Dropped: a retired key (its sender moved on to newer keys or left).
    pub retired: u64,
    /// Dropped: a new key over the decryptor's limits (a track bringing too many keys, or too
    /// many tracks).
    pub over_limit: u64,
    /// Dropped: no key yet.
    pub no_key: u64,
    /// Dropped: a KID its sender did not announce for this track.
    pub unannounced: u64,
    /// Dropped: a codec with no clear-prefix rule.
    pub unsupported_codec: u64,
    /// Dropped: under an MLS epoch we do not hold (the sender's group state is not ours).
    pub other_epoch: u64,
    /// Frames through the wasm engine.
    pub wasm: u64,
    /// Frames through WebCrypto.
    pub webcrypto: u64,
}

/// A message from the page that the worker could not understand.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed message for the frame-crypto worker: {0}")]
pub struct Malformed(pub &'static str);

fn get(object: &JsValue, field: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(field)).unwrap_or(JsValue::UNDEFINED)
}

fn set(object: &Object, field: &str, value: impl Into<JsValue>) {
    // Setting a plain data property on a fresh object cannot fail.
    let _ = Reflect::set(object, &JsValue::from_str(field), &value.into());
}

/// A new `{type}` message object.
pub fn message(kind: &str) -> Object {
    let object = Object::new();
    set(&object, "type", kind);
    object
}

/// The `type` of a message, if it has one.
pub fn message_type(message: &JsValue) -> Option<String> {
    get(message, "type").as_string()
}

/// Field `field` of `object`, for callers reading message fields not modelled here.
pub fn field(object: &JsValue, field: &str) -> JsValue {
    get(object, field)
}

impl TransformOptions {
    /// The JavaScript form.
    pub fn to_js(&self) -> Object {
        let object = Object::new();
        set(&object, "id", self.id);
        set(&object, "direction", self.direction.name());
        set(
            &object,
            "kind",
            match self.kind {
                MediaKind::Audio => "audio",
                MediaKind::Video => "video",
            },
        );
        let codecs = Array::new();
        for (pt, mime) in &self.codecs {
            codecs.push(&Array::of2(&JsValue::from(*pt), &JsValue::from_str(mime)));
        }
        set(&object, "codecs", codecs);
        if let Some(kid) = self.kid {
            // As text: a JavaScript number holds only 53 bits.
            set(&object, "kid", kid.to_string());
        }
        object
    }

    /// Reads the JavaScript form.
    pub fn from_js(value: &JsValue) -> Result<Self, Malformed> {
        let id = get(value, "id")
            .as_f64()
            .filter(|id| id.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(id))
            .ok_or(Malformed("transform id"))? as u32;
        let direction = get(value, "direction")
            .as_string()
            .as_deref()
            .and_then(Direction::from_name)
            .ok_or(Malformed("transform direction"))?;
        let kind = get(value, "kind")
            .as_string()
            .as_deref()
            .and_then(MediaKind::parse)
            .ok_or(Malformed("transform kind"))?;
        let mut codecs = Vec::new();
        if let Some(list) = get(value, "codecs").dyn_ref::<Array>() {
            for entry in list.iter() {
                let pt = Reflect::get_u32(&entry, 0).ok().and_then(|v| v.as_f64());
                let mime = Reflect::get_u32(&entry, 1).ok().and_then(|v| v.as_string());
                match (pt, mime) {
                    (Some(pt), Some(mime)) if (0.0..128.0).contains(&pt) => {
                        codecs.push((pt as u8, mime))
                    }
                    _ => return Err(Malformed("transform codecs")),
                }
            }
        }
        let kid = match get(value, "kid").as_string() {
            None => None,
            Some(text) => Some(text.parse().map_err(|_| Malformed("transform kid"))?),
        };
        Ok(TransformOptions {
            id,
            direction,
            kind,
            codecs,
            kid,
        })
    }
}

/// `{type: "key", key, engine, announced}`.
pub fn key_message(key: &[u8], engine: &str, announced: bool) -> Object {
    let object = message("key");
    set(&object, "key", Uint8Array::from(key));
    set(&object, "engine", engine);
    set(&object, "announced", announced);
    object
}

/// `{type: "announce", id, kids: [[kid, floor], ...]}`.
pub fn announce_message(id: u32, kids: &[(u64, u64)]) -> Object {
    let object = message("announce");
    set(&object, "id", id);
    let list: Array = kids
        .iter()
        .map(|(kid, floor)| {
            Array::of2(
                &JsValue::from(kid.to_string()),
                &JsValue::from(floor.to_string()),
            )
        })
        .collect();
    set(&object, "kids", list);
    object
}

/// Reads an `announce` message: the transform id and its (KID, floor) pairs.
pub fn read_announce_message(value: &JsValue) -> Result<(u32, Vec<(u64, u64)>), Malformed> {
    let id = get(value, "id")
        .as_f64()
        .filter(|id| id.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(id))
        .ok_or(Malformed("announce id"))? as u32;
    let list = get(value, "kids")
        .dyn_into::<Array>()
        .map_err(|_| Malformed("announce kids"))?;
    let number = |entry: &JsValue, at: u32| {
        Reflect::get_u32(entry, at)
            .ok()
            .and_then(|v| v.as_string())
            .and_then(|text| text.parse().ok())
    };
    let kids = list
        .iter()
        .map(|entry| Some((number(&entry, 0)?, number(&entry, 1)?)))
        .collect::<Option<Vec<(u64, u64)>>>()
        .ok_or(Malformed("announce kid"))?;
    Ok((id, kids))
}

/// An `owner` message: receive transform `id` is the line the relay says comes from `who`.
pub fn owner_message(id: u32, who: &str) -> Object {
    let object = message("owner");
    set(&object, "id", id);
    set(&object, "who", who);
    object
}

/// Reads an `owner` message: the transform id and the participant id.
pub fn read_owner_message(value: &JsValue) -> Result<(u32, String), Malformed> {
    let id = get(value, "id")
        .as_f64()
        .filter(|id| id.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(id))
        .ok_or(Malformed("owner id"))? as u32;
    let who = get(value, "who")
        .as_string()
        .filter(|who| !who.is_empty())
        .ok_or(Malformed("owner who"))?;
    Ok((id, who))
}

/// Whether a `key` message asks for announced KIDs only.
pub fn key_requires_announced(value: &JsValue) -> bool {
    get(value, "announced").as_bool() == Some(true)
}

/// Reads a `key` message: the key bytes and the engine policy.
pub fn read_key_message(value: &JsValue) -> Result<(Vec<u8>, EnginePolicy), Malformed> {
    let key = get(value, "key")
        .dyn_into::<Uint8Array>()
        .map_err(|_| Malformed("key bytes"))?
        .to_vec();
    if key.len() < 16 {
        return Err(Malformed("key too short"));
    }
    let engine = match get(value, "engine").as_string() {
        None => EnginePolicy::default(),
        Some(name) => EnginePolicy::parse(&name).ok_or(Malformed("engine"))?,
    };
    Ok((key, engine))
}

impl TransformStats {
    /// The JavaScript form, with the transform's id and direction.
    pub fn to_js(&self, id: u32, direction: Direction) -> Object {
        let object = Object::new();
        set(&object, "id", id);
        set(&object, "direction", direction.name());
        for (name, value) in [
            ("encrypted", self.encrypted),
            ("decrypted", self.decrypted),
            ("badTag", self.bad_tag),
            ("replay", self.replay),
            ("unknownFormat", self.unknown_format),
            ("kidCollision", self.kid_collision),
            ("retired", self.retired),
            ("overLimit", self.over_limit),
            ("unannounced", self.unannounced),
            ("noKey", self.no_key),
            ("unsupportedCodec", self.unsupported_codec),
            ("otherEpoch", self.other_epoch),
            ("wasm", self.wasm),
            ("webcrypto", self.webcrypto),
        ] {
            // Counters stay far below 2^53: exact as JavaScript numbers.
            set(&object, name, value as f64);
        }
        object
    }

    /// Reads the JavaScript form (missing counters are zero).
    pub fn from_js(value: &JsValue) -> TransformStats {
        let count = |name: &str| get(value, name).as_f64().unwrap_or(0.0) as u64;
        TransformStats {
            encrypted: count("encrypted"),
            decrypted: count("decrypted"),
            bad_tag: count("badTag"),
            replay: count("replay"),
            unknown_format: count("unknownFormat"),
            kid_collision: count("kidCollision"),
            retired: count("retired"),
            over_limit: count("overLimit"),
            unannounced: count("unannounced"),
            no_key: count("noKey"),
            unsupported_codec: count("unsupportedCodec"),
            other_epoch: count("otherEpoch"),
            wasm: count("wasm"),
            webcrypto: count("webcrypto"),
        }
    }

    /// Every frame dropped, for whatever reason.
    pub fn dropped(&self) -> u64 {
        self.bad_tag
            + self.replay
            + self.unknown_format
            + self.kid_collision
            + self.retired
            + self.over_limit
            + self.unannounced
            + self.no_key
            + self.unsupported_codec
            + self.other_epoch
    }
}
