//! A one-shot timer that is cancelled when dropped: an effect returns it (or drops it in its
//! cleanup), so no timer outlives the component or the state it was set for.

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

/// A pending `setTimeout`; dropping it clears the timer.
pub struct Timeout {
    handle: Option<i32>,
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    /// Calls `callback` once after `millis` milliseconds, unless dropped first.
    pub fn new(millis: u32, callback: impl FnOnce() + 'static) -> Timeout {
        let mut callback = Some(callback);
        let callback = Closure::<dyn FnMut()>::new(move || {
            if let Some(callback) = callback.take() {
                callback();
            }
        });
        let handle = web_sys::window().and_then(|window| {
            window
                .set_timeout_with_callback_and_timeout_and_arguments_0(
                    callback.as_ref().unchecked_ref(),
                    i32::try_from(millis).unwrap_or(i32::MAX),
                )
                .ok()
        });
        Timeout {
            handle,
            _callback: callback,
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if let (Some(handle), Some(window)) = (self.handle, web_sys::window()) {
            window.clear_timeout_with_handle(handle);
        }
    }
}
