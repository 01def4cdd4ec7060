//! A clock that works natively and in the browser, and medians.

/// Milliseconds from an arbitrary origin.
#[cfg(not(target_arch = "wasm32"))]
pub fn now_ms() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
}

/// Milliseconds from the page's time origin (`performance.now()`).
#[cfg(target_arch = "wasm32")]
pub fn now_ms() -> f64 {
    let global = js_sys::global();
    let performance = js_sys::Reflect::get(&global, &"performance".into()).expect("performance");
    let now = js_sys::Reflect::get(&performance, &"now".into()).expect("now");
    js_sys::Function::from(now)
        .call0(&performance)
        .expect("performance.now()")
        .as_f64()
        .expect("a number")
}

/// The median of `samples` (sorted in place).
pub fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len();
    if n % 2 == 1 {
        samples[n / 2]
    } else {
        (samples[n / 2 - 1] + samples[n / 2]) / 2.0
    }
}
