//! The same measurements in headless Chromium, both libraries in one page, one after the other:
//! ```sh
//! bash size.sh      # the size builds, whose compile time is the start-up figure
//! CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_WEBDRIVER_JSON=../../webdriver.json \
//!   CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
//!   cargo test --release --target wasm32-unknown-unknown --test browser -- --nocapture
//! ```
#![cfg(target_arch = "wasm32")]

use mls_eval::report::{measure, table};
use mls_eval::timing::{median, now_ms};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const MEMBERS: usize = 25;
const SAMPLES: usize = 21;

/// `WebAssembly.compile` of a size build (the part of start-up that grows with the code), median
/// of `SAMPLES`.
async fn compile_ms(bytes: &[u8]) -> f64 {
    let array = js_sys::Uint8Array::from(bytes);
    let mut times = Vec::new();
    for _ in 0..SAMPLES {
        let start = now_ms();
        let promise = js_sys::WebAssembly::compile(&array.clone().unchecked_into());
        wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .expect("compiles");
        times.push(now_ms() - start);
    }
    median(&mut times)
}

#[wasm_bindgen_test]
async fn side_by_side() {
    let openmls_wasm = include_bytes!("../size/openmls.wasm");
    let mlsrs_wasm = include_bytes!("../size/mlsrs.wasm");
    let compile = [compile_ms(openmls_wasm).await, compile_ms(mlsrs_wasm).await];
    let reports = [
        measure::<mls_eval::om::OpenMls>(MEMBERS, SAMPLES).expect("openmls"),
        measure::<mls_eval::mlsrs::MlsRs>(MEMBERS, SAMPLES).expect("mls-rs"),
    ];
    console_log!(
        "browser ({}), medians of {SAMPLES}, {MEMBERS} members:\n{}\nWebAssembly.compile of the size build: openmls {:.1} ms ({} B), mls-rs {:.1} ms ({} B), ratio {:.2}",
        web_sys_user_agent(),
        table(&reports),
        compile[0],
        openmls_wasm.len(),
        compile[1],
        mlsrs_wasm.len(),
        compile[1] / compile[0]
    );
}

fn web_sys_user_agent() -> String {
    js_sys::Reflect::get(&js_sys::global(), &"navigator".into())
        .and_then(|n| js_sys::Reflect::get(&n, &"userAgent".into()))
        .ok()
        .and_then(|ua| ua.as_string())
        .unwrap_or_default()
}
