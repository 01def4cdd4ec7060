//! Frames through the real transform pipeline, outside a call: the check that both AES-GCM
//! engines give the same bytes where it matters, in [`Attached`] and not in glue of its own.
//!
//! A call cannot choose its frames, so this feeds a `ReadableStream` of hand-made frames (one
//! object per frame with the encoded-frame shape the pipeline reads: `data`, and
//! `getMetadata()` with a payload type) through [`Attached::start`] with a fresh [`Keyring`]
//! under a forced engine policy, and collects what the pipeline writes and what it counted.
//! Frames go in one at a time, each once the previous one is written or dropped, and on a
//! WebCrypto run only once the engine's key is imported, so the engine that handled each frame
//! is the one the policy names (the counters say which did).
//!
//! Used by the in-browser tests (`tests/frame_crypto_in_browser.rs`); it is not a benchmark
//! and carries no timing.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{ArrayBuffer, Function, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, WritableStream};

use super::codec_table::MediaKind;
use super::engine::EnginePolicy;
use super::keyring::{Keyring, SharedKeyring};
use super::messages::{Direction, TransformOptions, TransformStats};
use super::pipeline::Attached;

/// The transform id every run uses (each run has its own keyring).
const ID: u32 = 1;
/// How long one frame, or one key import, may take before the run fails.
const PATIENCE_MS: f64 = 5_000.0;

/// The closure behind a hand-made frame's `getMetadata()`.
type MetadataGetter = Closure<dyn Fn() -> JsValue>;

/// One frame to feed: its payload type (looked up in the run's codec list) and bytes.
#[derive(Clone, Debug)]
pub struct Sample {
    /// RTP payload type, as `getMetadata().payloadType` gives it.
    pub payload_type: u8,
    /// The encoded frame (plaintext to send, ciphertext to receive).
    pub data: Vec<u8>,
}

/// One transform's setup.
#[derive(Clone, Debug)]
pub struct Run<'a> {
    /// Encrypt or decrypt.
    pub direction: Direction,
    /// Audio or video.
    pub kind: MediaKind,
    /// Payload type → mime type, as the page takes them from the SDP.
    pub codecs: &'a [(u8, &'a str)],
    /// Which engine the keyring must use.
    pub policy: EnginePolicy,
    /// The media base key.
    pub key: &'a [u8],
    /// The sender's KID (send runs).
    pub kid: u64,
}

/// What came out: the frames the pipeline passed on, in order (dropped frames are missing),
/// and its counters, the decryptor's merged in.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The frames written to the output stream.
    pub frames: Vec<Vec<u8>>,
    /// The transform's counters.
    pub stats: TransformStats,
}

/// Feeds `samples` through one pipeline set up as `run` says.
pub async fn run(run: &Run<'_>, samples: &[Sample]) -> Result<Outcome, JsValue> {
    let keyring = Keyring::new();
    Keyring::set_key(&keyring, run.key, run.policy, false);
    let options = TransformOptions {
        id: ID,
        direction: run.direction,
        kind: run.kind,
        codecs: run
            .codecs
            .iter()
            .map(|(pt, mime)| (*pt, (*mime).to_owned()))
            .collect(),
        kid: Some(run.kid),
    };

    let controller: Rc<RefCell<Option<JsValue>>> = Rc::default();
    let start = {
        let controller = controller.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |c: JsValue| *controller.borrow_mut() = Some(c))
    };
    let source = Object::new();
    Reflect::set(&source, &"start".into(), start.as_ref())?;
    let readable = ReadableStream::new_with_underlying_source(&source)?;

    let written: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let write = {
        let written = written.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |frame: JsValue| {
            let data = Reflect::get(&frame, &"data".into()).unwrap_or(JsValue::UNDEFINED);
            if let Ok(buffer) = data.dyn_into::<ArrayBuffer>() {
                written.borrow_mut().push(Uint8Array::new(&buffer).to_vec());
            }
        })
    };
    let sink = Object::new();
    Reflect::set(&sink, &"write".into(), write.as_ref())?;
    let writable = WritableStream::new_with_underlying_sink(&sink)?;

    let (attached, _piped) = Attached::start(&options, &keyring, &readable, &writable)?;
    let controller = controller
        .borrow()
        .clone()
        .ok_or("the stream did not start")?;
    let enqueue: Function = Reflect::get(&controller, &"enqueue".into())?.dyn_into()?;

    let webcrypto = run.policy != EnginePolicy::Wasm;
    if webcrypto && run.direction == Direction::Send {
        wait_for("the sender's WebCrypto key", || {
            keyring
                .borrow()
                .senders
                .get(&ID)
                .is_some_and(|sender| sender.webcrypto.is_some())
        })
        .await?;
    }
    let mut metadata_getters = Vec::with_capacity(samples.len());
    for (i, sample) in samples.iter().enumerate() {
        let (frame, getter) = encoded_frame(sample)?;
        metadata_getters.push(getter);
        enqueue.call1(&controller, &frame)?;
        wait_for("the pipeline to pass on or drop a frame", || {
            handled(&keyring, written.borrow().len()) > i as u64
        })
        .await?;
        if webcrypto && run.direction == Direction::Receive {
            // A remote KID's key goes to WebCrypto once a frame under it opened (in wasm).
            wait_for("the remote WebCrypto keys", || {
                keyring
                    .borrow()
                    .remote
                    .values()
                    .all(|remote| remote.webcrypto.is_some())
            })
            .await?;
        }
    }
    let stats = stats(&keyring);
    drop(attached);
    let frames = written.borrow().clone();
    Ok(Outcome { frames, stats })
}

/// An object the pipeline reads as an encoded frame, and the closure behind its
/// `getMetadata()` (to be kept alive while the frame is in the stream).
fn encoded_frame(sample: &Sample) -> Result<(Object, MetadataGetter), JsValue> {
    let frame = Object::new();
    let data = Uint8Array::from(sample.data.as_slice()).buffer();
    Reflect::set(&frame, &"data".into(), &data)?;
    let metadata = Object::new();
    Reflect::set(
        &metadata,
        &"payloadType".into(),
        &sample.payload_type.into(),
    )?;
    let getter = MetadataGetter::new(move || metadata.clone().into());
    Reflect::set(&frame, &"getMetadata".into(), getter.as_ref())?;
    Ok((frame, getter))
}

/// Frames the pipeline is done with: passed on, or dropped and counted.
fn handled(keyring: &SharedKeyring, written: usize) -> u64 {
    let s = stats(keyring);
    written as u64
        + s.bad_tag
        + s.replay
        + s.unknown_format
        + s.kid_collision
        + s.retired
        + s.over_limit
        + s.no_key
        + s.unannounced
        + s.unsupported_codec
}

fn stats(keyring: &SharedKeyring) -> TransformStats {
    keyring.borrow().transform_stats(ID)
}

/// Polls `ready` every few milliseconds, for at most [`PATIENCE_MS`].
async fn wait_for(what: &str, ready: impl Fn() -> bool) -> Result<(), JsValue> {
    let mut waited = 0.0;
    while !ready() {
        if waited >= PATIENCE_MS {
            return Err(JsValue::from_str(&format!("timed out waiting for {what}")));
        }
        sleep(2.0).await?;
        waited += 2.0;
    }
    Ok(())
}

async fn sleep(ms: f64) -> Result<(), JsValue> {
    let global = js_sys::global();
    let set_timeout: Function = Reflect::get(&global, &"setTimeout".into())?.dyn_into()?;
    let promise = Promise::new(&mut |resolve, _| {
        let _ = set_timeout.call2(&global, &resolve, &ms.into());
    });
    JsFuture::from(promise).await.map(|_| ())
}
