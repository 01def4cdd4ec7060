//! Integrity for the frame-crypto worker, where `integrity` attributes cannot reach: a worker
//! is started from a URL, and neither `new Worker` nor what the worker imports takes an
//! integrity value.
//!
//! The release build's `index.html` carries the SHA-256 of every script and wasm of its build,
//! in an import map written by `cargo xtask integrity` (Trunk's post-build hook; see
//! `xtask/src/dist.rs`). When the page has one, the worker's bootstrap
//! (`static/frame-crypto-worker.js`) is fetched with its value, so the browser refuses other
//! bytes, and the worker is started from those checked bytes (a `blob:` URL), never from the
//! server again. Its first message, `boot`, gives it its real URL and the values, with which it
//! fetches its glue and wasm the same way.
//!
//! A page without an import map (the in-browser test runner's) starts the worker from its URL,
//! unchecked, as before. A page with one that lacks a value, or a file that does not match,
//! gets no worker: [`StartError`], and so no call.

use js_sys::{Array, Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, BlobPropertyBag, RequestInit, Response, Url, Worker, WorkerOptions};

use super::StartError;

/// The page's integrity values: path (`/static/frame-crypto-worker.js`) to `sha256-...`.
pub struct Integrity(Object);

impl Integrity {
    /// The values of this page's import map; `Ok(None)` if the page has no import map.
    pub fn of_page() -> Result<Option<Integrity>, StartError> {
        let Some(map) = web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| {
                document
                    .query_selector(r#"script[type="importmap"]"#)
                    .ok()
                    .flatten()
            })
        else {
            return Ok(None);
        };
        let unreadable = || StartError("the page's integrity values are unreadable".into());
        let parsed = js_sys::JSON::parse(&map.text_content().unwrap_or_default())
            .map_err(|_| unreadable())?;
        Reflect::get(&parsed, &"integrity".into())
            .ok()
            .and_then(|values| values.dyn_into::<Object>().ok())
            .map(|values| Some(Integrity(values)))
            .ok_or_else(unreadable)
    }

    fn value(&self, path: &str) -> Result<String, StartError> {
        Reflect::get(&self.0, &path.into())
            .ok()
            .and_then(|value| value.as_string())
            .ok_or_else(|| StartError(format!("no integrity value for {path}, not loading it")))
    }
}

/// A worker started from the checked bytes of `worker_url`, already told to boot; and the
/// `blob:` URL to revoke once it is running.
pub async fn checked_worker(
    worker_url: &str,
    integrity: &Integrity,
    options: &WorkerOptions,
) -> Result<(Worker, String), StartError> {
    let failed = |e: JsValue| StartError(super::js_error_text(&e));
    let window = web_sys::window().ok_or_else(|| StartError("no window".into()))?;
    let page = window.location().href().map_err(failed)?;
    let url = Url::new_with_base(worker_url, &page).map_err(failed)?;
    let path = url.pathname();
    let init = RequestInit::new();
    init.set_integrity(&integrity.value(&path)?);
    let refused = |e: JsValue| {
        StartError(format!(
            "{path} was refused: it does not match its integrity value ({})",
            super::js_error_text(&e)
        ))
    };
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(&url.href(), &init))
        .await
        .map_err(refused)?
        .unchecked_into();
    if !response.ok() {
        return Err(StartError(format!("{path}: HTTP {}", response.status())));
    }
    let text = JsFuture::from(response.text().map_err(failed)?)
        .await
        .map_err(failed)?;
    let kind = BlobPropertyBag::new();
    kind.set_type("text/javascript");
    let blob =
        Blob::new_with_str_sequence_and_options(&Array::of1(&text), &kind).map_err(failed)?;
    let source = Url::create_object_url_with_blob(&blob).map_err(failed)?;
    let worker = match Worker::new_with_options(&source, options) {
        Ok(worker) => worker,
        Err(e) => {
            let _ = Url::revoke_object_url(&source);
            return Err(failed(e));
        }
    };
    let boot = Object::new();
    for (key, value) in [
        ("type", JsValue::from("boot")),
        ("url", url.href().into()),
        ("integrity", integrity.0.clone().into()),
    ] {
        Reflect::set(&boot, &key.into(), &value).map_err(failed)?;
    }
    worker.post_message(&boot).map_err(failed)?;
    Ok((worker, source))
}
