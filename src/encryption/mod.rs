//! The page's side of frame encryption: starts the frame-crypto worker, gives it the room's
//! media key, attaches it to every sender and receiver, and receives its counters.
//!
//! The link secret is parsed from `location.hash` once, by the caller; what reaches this module
//! is the derived media base key, and the only place it goes is the worker, by `postMessage`.
//! See [`crate::frame_crypto`] for the worker.

pub mod group;
pub mod integrity;
pub mod support;
pub mod warm;

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    MessageEvent, RtcRtpReceiver, RtcRtpScriptTransform, RtcRtpSender, Worker, WorkerOptions,
    WorkerType,
};

use crate::frame_crypto::codec_table::MediaKind;
use crate::frame_crypto::messages::{
    self, key_message, message_type, Direction, TransformOptions, TransformStats,
};
pub use support::{AttachPath, Unsupported};
pub use warm::WarmWorker;

/// Where the worker's bootstrap script is served.
pub const WORKER_URL: &str = "/static/frame-crypto-worker.js";

/// What the worker reports about once a second.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkerStats {
    /// Counters of every transform: id, direction, counters.
    pub transforms: Vec<(u32, Direction, TransformStats)>,
    /// Frames of at least this many bytes go to WebCrypto (`None`: all to wasm, or not
    /// automatic).
    pub webcrypto_from: Option<usize>,
    /// Allocations so far in the worker, if a test installed a probe.
    pub allocations: Option<u64>,
    /// Whether the worker has measured its engine crossover.
    pub calibrated: bool,
}

/// Receives the worker's reports.
pub type StatsCallback = Box<dyn FnMut(&WorkerStats)>;

/// A running frame-crypto worker and the path it is attached by.
pub struct FrameCrypto {
    worker: Worker,
    path: AttachPath,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    on_stats: Rc<RefCell<Option<StatsCallback>>>,
    on_group: Rc<RefCell<Option<group::GroupCallback>>>,
}

/// Why a transform could not be attached.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    /// The browser refused (for example Chromium's `InvalidStateError` on script transforms).
    #[error("the browser refused the encoded transform: {0}")]
    Refused(String),
}

fn js_error_text(error: &JsValue) -> String {
    error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| error.as_string())
        .unwrap_or_else(|| "unknown error".into())
}

/// Why the worker did not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the frame-crypto worker did not start: {0}")]
pub struct StartError(pub String);

/// Resolves or rejects the start-up promise once.
type Settle = Rc<RefCell<Option<(js_sys::Function, js_sys::Function)>>>;

fn settle(settle: &Settle, ready: bool, value: &JsValue) {
    if let Some((resolve, reject)) = settle.borrow_mut().take() {
        let _ = if ready { resolve } else { reject }.call1(&JsValue::NULL, value);
    }
}

fn read_stats(data: &JsValue) -> WorkerStats {
    let transforms = messages::field(data, "transforms")
        .dyn_into::<Array>()
        .map(|list| {
            list.iter()
                .filter_map(|entry| {
                    let id = messages::field(&entry, "id").as_f64()? as u32;
                    let direction = messages::field(&entry, "direction").as_string()?;
                    let direction = Direction::from_name(&direction)?;
                    Some((id, direction, TransformStats::from_js(&entry)))
                })
                .collect()
        })
        .unwrap_or_default();
    WorkerStats {
        transforms,
        webcrypto_from: messages::field(data, "webcryptoFrom")
            .as_f64()
            .map(|bytes| bytes as usize),
        allocations: messages::field(data, "allocations")
            .as_f64()
            .map(|count| count as u64),
        calibrated: messages::field(data, "calibrated").as_bool() == Some(true),
    }
}

impl FrameCrypto {
    /// Starts the worker from `worker_url` (normally [`WORKER_URL`]) for `path`, and waits
    /// until it is ready for keys and transforms.
    pub async fn start(worker_url: &str, path: AttachPath) -> Result<FrameCrypto, StartError> {
        let failed = |e: JsValue| StartError(js_error_text(&e));
        let options = WorkerOptions::new();
        options.set_type(WorkerType::Module);
        // Checked bytes when the page has integrity values (the release build): see
        // integrity.rs. `source` is the blob: URL the worker was started from.
        let (worker, source) = match integrity::Integrity::of_page()? {
            Some(values) => {
                let (worker, source) = integrity::checked_worker(worker_url, &values, &options)
                    .await
                    .inspect_err(|error| {
                        web_sys::console::error_2(
                            &"frame-crypto worker:".into(),
                            &error.0.as_str().into(),
                        );
                    })?;
                (worker, Some(source))
            }
            None => (
                Worker::new_with_options(worker_url, &options).map_err(failed)?,
                None,
            ),
        };
        let on_stats: Rc<RefCell<Option<StatsCallback>>> = Rc::new(RefCell::new(None));
        let on_group: Rc<RefCell<Option<group::GroupCallback>>> = Rc::new(RefCell::new(None));
        let settler: Settle = Rc::new(RefCell::new(None));
        let ready = js_sys::Promise::new(&mut |resolve, reject| {
            *settler.borrow_mut() = Some((resolve, reject));
        });
        let on_error = {
            let settler = settler.clone();
            Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
                settle(&settler, false, &"the worker script failed to load".into());
            })
        };
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        let on_message = {
            let on_stats = on_stats.clone();
            let on_group = on_group.clone();
            let settler = settler.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                let data = event.data();
                match message_type(&data).as_deref() {
                    Some("ready") => settle(&settler, true, &JsValue::UNDEFINED),
                    Some("stats") => {
                        let stats = read_stats(&data);
                        if let Some(callback) = on_stats.borrow_mut().as_mut() {
                            callback(&stats);
                        }
                    }
                    Some("error") => {
                        let text = messages::field(&data, "message");
                        settle(&settler, false, &text);
                        web_sys::console::warn_2(&"frame-crypto worker:".into(), &text);
                    }
                    Some(kind) => {
                        if let Some(event) = group::read_event(kind, &data) {
                            if let Some(callback) = on_group.borrow_mut().as_mut() {
                                callback(event);
                            }
                        }
                    }
                    None => {}
                }
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        let started = wasm_bindgen_futures::JsFuture::from(ready).await;
        if let Some(source) = source {
            let _ = web_sys::Url::revoke_object_url(&source);
        }
        worker.set_onerror(None);
        drop(on_error);
        if let Err(error) = started {
            worker.terminate();
            return Err(failed(error));
        }
        Ok(FrameCrypto {
            worker,
            path,
            _on_message: on_message,
            on_stats,
            on_group,
        })
    }

    /// The attachment path.
    pub fn path(&self) -> AttachPath {
        self.path
    }

    /// Whether peer connections must be created with `encodedInsertableStreams: true`.
    pub fn needs_insertable_streams(&self) -> bool {
        self.path == AttachPath::EncodedStreams
    }

    /// Gives the worker the room's media base key; `engine` is `auto`, `wasm` or `webcrypto`.
    pub fn set_key(&self, media_key: &[u8], engine: &str) -> Result<(), JsValue> {
        self.worker
            .post_message(&key_message(media_key, engine, false).into())
    }

    /// [`FrameCrypto::set_key`], and from now on remote frames open only under the KIDs
    /// announced for their track ([`FrameCrypto::announce`]): what a meeting uses, so that the
    /// relay cannot pass one participant's frames off as another's.
    pub fn set_key_announced_only(&self, media_key: &[u8], engine: &str) -> Result<(), JsValue> {
        self.worker
            .post_message(&key_message(media_key, engine, true).into())
    }

    /// The KIDs the sender of remote track `id` announced (in their sealed presence note),
    /// each with the lowest counter to accept under it.
    pub fn announce(&self, id: u32, kids: &[(u64, u64)]) {
        let _ = self
            .worker
            .post_message(&messages::announce_message(id, kids).into());
    }

    /// Calls `callback` with every transform's counters, about once a second.
    pub fn on_stats(&self, callback: StatsCallback) {
        *self.on_stats.borrow_mut() = Some(callback);
    }

    /// Encrypts everything `sender` sends, under `kid` if given (the KID we announce for this
    /// track), else a random one. Call right after adding the track, before negotiation.
    pub fn protect_sender(
        &self,
        sender: &RtcRtpSender,
        id: u32,
        kind: MediaKind,
        kid: Option<u64>,
    ) -> Result<(), AttachError> {
        let options = TransformOptions {
            id,
            direction: Direction::Send,
            kind,
            codecs: Vec::new(),
            kid,
        };
        self.protect(sender, &options, |transform| {
            sender.set_transform_opt_rtc_rtp_script_transform(Some(transform))
        })
    }

    /// Decrypts everything `receiver` receives. Call in the `track` event, synchronously.
    pub fn protect_receiver(
        &self,
        receiver: &RtcRtpReceiver,
        id: u32,
        kind: MediaKind,
        codecs: Vec<(u8, String)>,
    ) -> Result<(), AttachError> {
        let options = TransformOptions {
            id,
            direction: Direction::Receive,
            kind,
            codecs,
            kid: None,
        };
        self.protect(receiver, &options, |transform| {
            receiver.set_transform_opt_rtc_rtp_script_transform(Some(transform))
        })
    }

    fn protect(
        &self,
        sender_or_receiver: &JsValue,
        options: &TransformOptions,
        set_transform: impl FnOnce(&RtcRtpScriptTransform),
    ) -> Result<(), AttachError> {
        match self.path {
            AttachPath::ScriptTransform => {
                set_transform(&self.script_transform(options)?);
                Ok(())
            }
            AttachPath::EncodedStreams => self.attach_streams(sender_or_receiver, options),
        }
    }

    /// Forgets transform `id` (its track ended or its participant left): its KIDs are retired.
    pub fn detach(&self, id: u32) {
        let message = messages::message("detach");
        let _ = Reflect::set(&message, &"id".into(), &id.into());
        let _ = self.worker.post_message(&message);
    }

    fn script_transform(
        &self,
        options: &TransformOptions,
    ) -> Result<RtcRtpScriptTransform, AttachError> {
        RtcRtpScriptTransform::new_with_options(&self.worker, &options.to_js())
            .map_err(|e| AttachError::Refused(js_error_text(&e)))
    }

    /// Chromium's path: `createEncodedStreams()` on the sender or receiver, both streams
    /// transferred to the worker.
    fn attach_streams(
        &self,
        sender_or_receiver: &JsValue,
        options: &TransformOptions,
    ) -> Result<(), AttachError> {
        let refused = |e: JsValue| AttachError::Refused(js_error_text(&e));
        let create: js_sys::Function =
            Reflect::get(sender_or_receiver, &"createEncodedStreams".into())
                .map_err(refused)?
                .dyn_into()
                .map_err(refused)?;
        let streams = create.call0(sender_or_receiver).map_err(refused)?;
        let readable = Reflect::get(&streams, &"readable".into()).map_err(refused)?;
        let writable = Reflect::get(&streams, &"writable".into()).map_err(refused)?;
        let message = messages::message("attach");
        let _ = Reflect::set(&message, &"options".into(), &options.to_js());
        let _ = Reflect::set(&message, &"readable".into(), &readable);
        let _ = Reflect::set(&message, &"writable".into(), &writable);
        self.worker
            .post_message_with_transfer(&message, &Array::of2(&readable, &writable))
            .map_err(refused)
    }
}

impl Drop for FrameCrypto {
    fn drop(&mut self) {
        self.worker.terminate();
    }
}
