//! The worker's entry point: the events the bootstrap script (`static/frame-crypto-worker.js`)
//! hands over, dispatched to the keyring and the transforms, and the counters reported to the
//! page once a second.
//!
//! Events come from two places. `rtctransform` is the standard path: the page set
//! `sender.transform = new RTCRtpScriptTransform(worker, options)` and the browser gives the
//! worker the transformer with its streams. `message` carries the page's commands (`key`,
//! `detach`, `bench`, and the MLS group's `group` and `handshake`: [`super::group`]) and, on Chromium's `createEncodedStreams` path, `attach` with the
//! streams transferred by the page. Both paths end in [`Attached::start`].
//!
//! The bootstrap queues events that arrive while the wasm module loads, so none is lost.

use std::cell::RefCell;
use std::collections::HashMap;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{
    DedicatedWorkerGlobalScope, MessageEvent, ReadableStream, RtcTransformEvent, WritableStream,
};

use super::engine::EnginePolicy;
use super::keyring::{Keyring, SharedKeyring};
use super::messages::{
    self, field, key_requires_announced, message_type, read_announce_message, read_key_message,
    read_owner_message, TransformOptions,
};
use super::pipeline::Attached;
use veilig_e2ee::{Counter, Kid};

/// How often counters go to the page.
const STATS_INTERVAL_MS: i32 = 1000;

struct Worker {
    keyring: SharedKeyring,
    attached: HashMap<u32, Attached>,
    _stats_timer: Option<Closure<dyn FnMut()>>,
}

thread_local! {
    static WORKER: RefCell<Option<Worker>> = const { RefCell::new(None) };
    static ALLOCATION_PROBE: std::cell::Cell<Option<fn() -> u64>> =
        const { std::cell::Cell::new(None) };
}

/// Makes every `stats` message carry `allocations`, the count `probe` reports: for tests that
/// install a counting allocator and check what frames allocate in the steady state.
pub fn count_allocations_with(probe: fn() -> u64) {
    ALLOCATION_PROBE.with(|cell| cell.set(Some(probe)));
}

fn stats_message(keyring: &SharedKeyring) -> JsValue {
    let message = keyring.borrow().report();
    if let Some(probe) = ALLOCATION_PROBE.with(std::cell::Cell::get) {
        let _ = js_sys::Reflect::set(&message, &"allocations".into(), &(probe() as f64).into());
    }
    message
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(message: &JsValue) {
    let _ = scope().post_message(message);
}

/// Reports a problem to the page (which logs it) without any key or frame content.
fn report_error(id: Option<u32>, text: &str) {
    let message = messages::message("error");
    if let Some(id) = id {
        let _ = js_sys::Reflect::set(&message, &"id".into(), &id.into());
    }
    let _ = js_sys::Reflect::set(&message, &"message".into(), &text.into());
    post(&message);
}

fn with_worker<R>(f: impl FnOnce(&mut Worker) -> R) -> R {
    WORKER.with(|cell| {
        let mut slot = cell.borrow_mut();
        let worker = slot.get_or_insert_with(|| {
            let keyring = Keyring::new();
            let timer = {
                let keyring = keyring.clone();
                Closure::<dyn FnMut()>::new(move || post(&stats_message(&keyring)))
            };
            let registered = scope()
                .set_interval_with_callback_and_timeout_and_arguments_0(
                    timer.as_ref().unchecked_ref(),
                    STATS_INTERVAL_MS,
                )
                .is_ok();
            Worker {
                keyring,
                attached: HashMap::new(),
                _stats_timer: registered.then_some(timer),
            }
        });
        f(worker)
    })
}

/// Announces that the worker is ready for the page's messages.
pub fn announce_ready() {
    with_worker(|_| ());
    post(&messages::message("ready").into());
}

/// Handles one event from the bootstrap: `message` or `rtctransform`.
pub fn handle_event(event: web_sys::Event) {
    match event.type_().as_str() {
        "rtctransform" => {
            let transformer = event.unchecked_into::<RtcTransformEvent>().transformer();
            attach(
                &transformer.options(),
                &transformer.readable(),
                &transformer.writable(),
            );
        }
        "message" => handle_message(&event.unchecked_into::<MessageEvent>().data()),
        _ => {}
    }
}

fn handle_message(data: &JsValue) {
    match message_type(data).as_deref() {
        Some("key") => match read_key_message(data) {
            Ok((key, policy)) => {
                let keyring = with_worker(|worker| worker.keyring.clone());
                Keyring::set_key(&keyring, &key, policy, key_requires_announced(data));
                calibrate(keyring, policy);
            }
            Err(error) => report_error(None, &error.to_string()),
        },
        Some("attach") => {
            let readable = field(data, "readable").dyn_into::<ReadableStream>();
            let writable = field(data, "writable").dyn_into::<WritableStream>();
            match (readable, writable) {
                (Ok(readable), Ok(writable)) => {
                    attach(&field(data, "options"), &readable, &writable)
                }
                _ => report_error(None, "attach without streams"),
            }
        }
        Some("announce") => match read_announce_message(data) {
            Ok((id, kids)) => with_worker(|worker| worker.keyring.clone())
                .borrow_mut()
                .announce(
                    id,
                    kids.into_iter()
                        .map(|(kid, floor)| (Kid(kid), Counter(floor)))
                        .collect(),
                ),
            Err(error) => report_error(None, &error.to_string()),
        },
        Some("owner") => match read_owner_message(data) {
            Ok((id, who)) => with_worker(|worker| worker.keyring.clone())
                .borrow_mut()
                .bind_owner(id, &who),
            Err(error) => report_error(None, &error.to_string()),
        },
        Some("detach") => {
            if let Some(id) = field(data, "id").as_f64() {
                detach(id as u32);
            }
        }
        Some("bench") => super::bench::run(data),
        Some("group") => {
            let keyring = with_worker(|worker| worker.keyring.clone());
            match super::group::start(data, &keyring, post) {
                Ok(policy) => calibrate(keyring, policy),
                Err(error) => report_error(None, &error.to_string()),
            }
        }
        Some("handshake") => {
            if let Err(error) = super::group::handshake(data, post) {
                report_error(None, &error.to_string());
            }
        }
        _ => report_error(None, "unknown message type"),
    }
}

/// Measures the engine crossover once, if the automatic choice needs it (until measured, the
/// default crossover applies).
fn calibrate(keyring: SharedKeyring, policy: EnginePolicy) {
    if matches!(policy, EnginePolicy::Auto { .. }) && !keyring.borrow().calibrated() {
        wasm_bindgen_futures::spawn_local(async move {
            let crossover = super::bench::crossover().await;
            keyring.borrow_mut().set_crossover(crossover);
        });
    }
}

fn attach(options: &JsValue, readable: &ReadableStream, writable: &WritableStream) {
    let options = match TransformOptions::from_js(options) {
        Ok(options) => options,
        Err(error) => return report_error(None, &error.to_string()),
    };
    let id = options.id;
    let keyring = with_worker(|worker| worker.keyring.clone());
    match Attached::start(&options, &keyring, readable, writable) {
        Ok((attached, ended)) => {
            with_worker(|worker| worker.attached.insert(id, attached));
            // The stream ends when the track or connection does; then the transform goes. The
            // callback is tiny and runs once per attach, so it is left to live forever rather
            // than freed while it runs.
            let on_end = Closure::<dyn FnMut(JsValue)>::new(move |_: JsValue| end(id));
            let _ = ended.then2(&on_end, &on_end);
            on_end.forget();
        }
        Err(_) => report_error(Some(id), "could not start the transform"),
    }
}

/// A stream ended by itself: free its transform, keep its counters until the page detaches.
fn end(id: u32) {
    with_worker(|worker| {
        if worker.attached.get(&id).is_some_and(|a| a.id() == id) {
            worker.attached.remove(&id);
        }
    });
}

fn detach(id: u32) {
    let keyring = with_worker(|worker| {
        worker.attached.remove(&id);
        worker.keyring.clone()
    });
    keyring.borrow_mut().remove_transform(id);
}
