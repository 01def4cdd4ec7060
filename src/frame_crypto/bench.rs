//! The worker's benchmark: what one frame costs to encrypt and decrypt on each engine, measured
//! side by side in the same worker, on the same frames, in the same run.
//!
//! Started by `static/bench.html` (a `bench` message); not part of the test suite. Each engine
//! does the whole per-frame job the transforms do, copies included: wasm copies the frame in,
//! encrypts, copies out, then the same to decrypt; WebCrypto gets the plan from the core, awaits
//! `crypto.subtle`, assembles in JavaScript, and on the way back has the core check the result.
//! Timer resolution in workers is coarse (down to 100 µs), so frames are timed in batches of at
//! least several milliseconds, rounds alternate the engines, and the medians of the rounds are
//! reported. Before timing, it checks that both engines produce identical bytes.

use js_sys::{Array, Object, Reflect, Uint8Array};
use veilig_e2ee::{BaseKey, CipherSuite, Codec, FrameDecryptor, FrameEncryptor, Kid, SourceId};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::messages::{field, message};
use super::webcrypto;

const ROUNDS: usize = 9;
const KID: Kid = Kid(7);

/// Runs the benchmark asked for in `request` and posts a `bench` message with the results.
pub fn run(request: &JsValue) {
    let sizes: Vec<usize> = field(request, "sizes")
        .dyn_into::<Array>()
        .map(|sizes| {
            sizes
                .iter()
                .filter_map(|size| size.as_f64())
                .map(|size| size as usize)
                .filter(|size| (4..=1 << 20).contains(size))
                .collect()
        })
        .unwrap_or_else(|_| vec![100, 1000, 10_000, 100_000]);
    wasm_bindgen_futures::spawn_local(async move {
        let reply = match measure(&sizes).await {
            Ok(results) => results,
            Err(error) => {
                let reply = message("error");
                let _ = Reflect::set(&reply, &"message".into(), &error);
                reply
            }
        };
        let scope: web_sys::DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        let _ = scope.post_message(&reply);
    });
}

fn now() -> f64 {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    scope.performance().map(|p| p.now()).unwrap_or(0.0)
}

/// A VP8 delta frame of `len` bytes with encoder-like content.
fn frame(len: usize) -> Vec<u8> {
    let mut frame = vec![0x51, 0x2a, 0x00];
    frame.extend((3..len).map(|i| (i as u8).wrapping_mul(31) ^ (i >> 8) as u8));
    frame
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// One base key, and the same sender key (KID 7) in WebCrypto.
struct Engines {
    base: BaseKey,
    key: web_sys::CryptoKey,
}

impl Engines {
    async fn new(seed: u8) -> Result<Engines, JsValue> {
        let base = BaseKey::new(&[seed; 32]);
        let suite = CipherSuite::default();
        let raw = FrameEncryptor::new(suite, &base, KID)
            .key_material()
            .0
            .key(suite)
            .to_vec();
        Ok(Engines {
            key: webcrypto::import_key(&raw).await?,
            base,
        })
    }
}

async fn measure(sizes: &[usize]) -> Result<Object, JsValue> {
    let engines = Engines::new(0x42).await?;
    let identical = agree(&engines, sizes).await?;
    let mut wasm = vec![Vec::new(); sizes.len()];
    let mut web = vec![Vec::new(); sizes.len()];
    for _ in 0..ROUNDS {
        for (i, &size) in sizes.iter().enumerate() {
            let frames = (2_000_000 / size).clamp(20, 2000);
            let data = Uint8Array::from(frame(size).as_slice());
            wasm[i].push(wasm_round(&engines, &data, frames)?);
            web[i].push(webcrypto_round(&engines, &data, frames).await?);
        }
    }
    let results = Array::new();
    for (i, &size) in sizes.iter().enumerate() {
        let row = Object::new();
        let wasm_us = median(&mut wasm[i]);
        let web_us = median(&mut web[i]);
        Reflect::set(&row, &"size".into(), &(size as f64).into())?;
        Reflect::set(&row, &"wasmUs".into(), &wasm_us.into())?;
        Reflect::set(&row, &"webcryptoUs".into(), &web_us.into())?;
        Reflect::set(&row, &"autoUs".into(), &wasm_us.min(web_us).into())?;
        results.push(&row);
    }
    let reply = message("bench");
    Reflect::set(&reply, &"results".into(), &results)?;
    Reflect::set(&reply, &"identical".into(), &identical.into())?;
    Reflect::set(&reply, &"rounds".into(), &(ROUNDS as f64).into())?;
    // What the worker's own quick calibration concludes here, for comparison.
    if let Some(size) = crossover().await {
        Reflect::set(&reply, &"crossover".into(), &(size as f64).into())?;
    }
    Ok(reply)
}

/// Microseconds per frame, encrypt and decrypt, on the wasm engine.
fn wasm_round(engines: &Engines, data: &Uint8Array, frames: usize) -> Result<f64, JsValue> {
    let suite = CipherSuite::default();
    let mut sender = FrameEncryptor::new(suite, &engines.base, KID);
    let mut receiver = FrameDecryptor::new(suite, &engines.base);
    let (mut input, mut sealed, mut opened) = (Vec::new(), Vec::new(), Vec::new());
    let start = now();
    for _ in 0..frames {
        input.resize(data.length() as usize, 0);
        data.copy_to(&mut input);
        sender
            .encrypt(Codec::Vp8, &input, &mut sealed)
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        let wire = Uint8Array::new_with_length(sealed.len() as u32);
        wire.copy_from(&sealed);
        input.resize(wire.length() as usize, 0);
        wire.copy_to(&mut input);
        receiver
            .decrypt(SourceId(1), Codec::Vp8, &input, &mut opened)
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        let out = Uint8Array::new_with_length(opened.len() as u32);
        out.copy_from(&opened);
    }
    Ok((now() - start) * 1000.0 / frames as f64)
}

/// Microseconds per frame, encrypt and decrypt, on WebCrypto, one frame in flight at a time
/// as in a transform.
async fn webcrypto_round(
    engines: &Engines,
    data: &Uint8Array,
    frames: usize,
) -> Result<f64, JsValue> {
    let suite = CipherSuite::default();
    let mut sender = FrameEncryptor::new(suite, &engines.base, KID);
    let mut receiver = FrameDecryptor::new(suite, &engines.base);
    let start = now();
    for _ in 0..frames {
        let wire = webcrypto_seal(engines, &mut sender, data).await?;
        webcrypto_open(engines, &mut receiver, &wire).await?;
    }
    Ok((now() - start) * 1000.0 / frames as f64)
}

async fn webcrypto_seal(
    engines: &Engines,
    sender: &mut FrameEncryptor,
    data: &Uint8Array,
) -> Result<Uint8Array, JsValue> {
    let len = data.length() as usize;
    let mut head = vec![0u8; len.min(16)];
    data.subarray(0, head.len() as u32).copy_to(&mut head);
    let plan = sender
        .begin_external(Codec::Vp8, &head)
        .map_err(|e| JsValue::from_str(&e.to_string()))?
        .ok_or("empty frame")?;
    let mut aad = Vec::new();
    plan.aad(&head, &mut aad);
    let plaintext = data.subarray(plan.prefix_len as u32, len as u32);
    let sealed = JsFuture::from(webcrypto::seal(
        &engines.key,
        &plan.nonce,
        &aad,
        &plaintext,
    )?)
    .await?;
    Ok(webcrypto::assemble_sealed(
        &plan,
        data,
        &sealed.unchecked_into(),
    ))
}

async fn webcrypto_open(
    engines: &Engines,
    receiver: &mut FrameDecryptor,
    wire: &Uint8Array,
) -> Result<Uint8Array, JsValue> {
    let len = wire.length() as usize;
    let input = wire.to_vec();
    let source = SourceId(1);
    let plan = receiver
        .begin_external(source, Codec::Vp8, &input)
        .map_err(|e| JsValue::from_str(&e.to_string()))?
        .ok_or("empty frame")?;
    let material = receiver.key_material(plan.header.kid);
    let mut aad = Vec::new();
    plan.aad(&input, &mut aad);
    let range = plan.sealed_range(len);
    let opened = JsFuture::from(webcrypto::open(
        &engines.key,
        &material.nonce(plan.header.ctr),
        &aad,
        &wire.subarray(range.start as u32, range.end as u32),
    )?)
    .await;
    receiver
        .finish_external(source, &plan, opened.is_ok())
        .map_err(|e| JsValue::from_str(&e.to_string()))?;
    Ok(webcrypto::assemble_opened(
        &plan,
        wire,
        &opened?.unchecked_into(),
    ))
}

/// The frame size from which WebCrypto is faster than wasm in this browser on this machine,
/// measured in a fraction of a second: both engines on frames of doubling size, the fastest of
/// three short batches each (the minimum is the estimate least disturbed by other work). `None`
/// if WebCrypto never wins up to 64 KB, or if it fails.
pub async fn crossover() -> Option<usize> {
    let engines = Engines::new(0x33).await.ok()?;
    let mut size = 500;
    while size <= 64_000 {
        let data = Uint8Array::from(frame(size).as_slice());
        let (mut wasm, mut web) = (f64::INFINITY, f64::INFINITY);
        for _ in 0..3 {
            wasm = wasm.min(wasm_round(&engines, &data, (100_000 / size).clamp(4, 100)).ok()?);
            web = web.min(webcrypto_round(&engines, &data, 10).await.ok()?);
        }
        if web <= wasm {
            return Some(size);
        }
        size *= 2;
    }
    None
}

/// Whether both engines give the same bytes for VP8 frames of `sizes` bytes, and each opens
/// the other's output: the benchmark's own sanity check before timing (the tests check the
/// real pipeline on every codec rule, `crosscheck`).
async fn agree(engines: &Engines, sizes: &[usize]) -> Result<bool, JsValue> {
    let suite = CipherSuite::default();
    let mut in_wasm = FrameEncryptor::new(suite, &engines.base, KID);
    let mut in_webcrypto = FrameEncryptor::new(suite, &engines.base, KID);
    let mut receiver = FrameDecryptor::new(suite, &engines.base);
    let mut wire = Vec::new();
    let mut opened = Vec::new();
    for &size in sizes {
        let plain = frame(size);
        in_wasm
            .encrypt(Codec::Vp8, &plain, &mut wire)
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        let by_webcrypto = webcrypto_seal(
            engines,
            &mut in_webcrypto,
            &Uint8Array::from(plain.as_slice()),
        )
        .await?
        .to_vec();
        if by_webcrypto != wire {
            return Ok(false);
        }
        // Each engine opens the other's output.
        let back = webcrypto_open(engines, &mut receiver, &Uint8Array::from(wire.as_slice()))
            .await?
            .to_vec();
        if back != plain {
            return Ok(false);
        }
        let next = webcrypto_seal(
            engines,
            &mut in_webcrypto,
            &Uint8Array::from(plain.as_slice()),
        )
        .await?
        .to_vec();
        in_wasm.advance_counter_to(in_webcrypto.next_counter().map_or(u64::MAX, |c| c.0));
        receiver
            .decrypt(SourceId(1), Codec::Vp8, &next, &mut opened)
            .map_err(|e| JsValue::from_str(&e.to_string()))?;
        if opened != plain {
            return Ok(false);
        }
    }
    Ok(true)
}
