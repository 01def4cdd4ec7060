//! A frame-crypto worker started before it is needed, so that joining does not wait for it.
//!
//! Starting the worker means fetching and compiling its wasm: about 200-300 ms that used to
//! sit between pressing "join" and the signaling socket opening. The meeting page starts one
//! as soon as it opens, while the lobby asks for the camera; the first call takes it.
//! Reconnects still start a fresh worker each, as before, and a warm worker nobody takes is
//! terminated when dropped (`FrameCrypto`'s `Drop`).
//!
//! Nothing is sent anywhere: the worker holds no key until the call gives it one.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen_futures::JsFuture;

use super::{AttachPath, FrameCrypto, StartError};

type Slot = Rc<RefCell<Option<Result<FrameCrypto, StartError>>>>;

/// A worker starting (or started) in the background.
pub struct WarmWorker {
    path: AttachPath,
    started: js_sys::Promise,
    slot: Slot,
}

impl WarmWorker {
    /// Starts a worker from `worker_url` for `path` in the background.
    pub fn start(worker_url: &'static str, path: AttachPath) -> WarmWorker {
        let slot: Slot = Rc::new(RefCell::new(None));
        let started = {
            let slot = slot.clone();
            wasm_bindgen_futures::future_to_promise(async move {
                let crypto = FrameCrypto::start(worker_url, path).await;
                *slot.borrow_mut() = Some(crypto);
                Ok(wasm_bindgen::JsValue::UNDEFINED)
            })
        };
        WarmWorker {
            path,
            started,
            slot,
        }
    }

    /// The path the worker was started for.
    pub fn path(&self) -> AttachPath {
        self.path
    }

    /// The worker, once it is ready (at once if it already is).
    pub async fn take(self) -> Result<FrameCrypto, StartError> {
        // The promise never rejects: the outcome, error or not, is in the slot.
        let _ = JsFuture::from(self.started).await;
        self.slot
            .borrow_mut()
            .take()
            .unwrap_or_else(|| Err(StartError("the warm worker was already taken".into())))
    }
}
