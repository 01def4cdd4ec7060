//! The browser's AES-GCM (`crypto.subtle`) as the frame-crypto worker's second engine, and the
//! app's random numbers (in the worker and on the page alike).
//!
//! Thin: everything SFrame-specific (nonces, associated data, layout, checks) comes from the
//! core's external-engine plans (`veilig_e2ee::external`); this module only calls WebCrypto.

use js_sys::{Array, ArrayBuffer, Promise, Uint8Array};
use veilig_e2ee::{ExternalOpen, ExternalSeal};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AesGcmParams, Crypto, CryptoKey, SubtleCrypto};

/// The global scope's `crypto`, in a worker or a window.
pub fn crypto() -> Result<Crypto, JsValue> {
    let global = js_sys::global();
    js_sys::Reflect::get(&global, &JsValue::from_str("crypto"))?.dyn_into::<Crypto>()
}

fn subtle() -> Result<SubtleCrypto, JsValue> {
    Ok(crypto()?.subtle())
}

/// Fills `bytes` from the browser's CSPRNG.
pub fn fill_random(bytes: &mut [u8]) -> Result<(), JsValue> {
    crypto()?.get_random_values_with_u8_array(bytes)?;
    Ok(())
}

/// A random 64-bit value from the browser's CSPRNG.
pub fn random_u64() -> Result<u64, JsValue> {
    let mut bytes = [0u8; 8];
    fill_random(&mut bytes)?;
    Ok(u64::from_be_bytes(bytes))
}

/// Imports a raw AES-GCM key, not extractable.
pub async fn import_key(raw: &[u8]) -> Result<CryptoKey, JsValue> {
    let usages = Array::of2(&"encrypt".into(), &"decrypt".into());
    let promise =
        subtle()?.import_key_with_str("raw", &Uint8Array::from(raw), "AES-GCM", false, &usages)?;
    JsFuture::from(promise).await?.dyn_into()
}

fn params(nonce: &[u8], aad: &[u8]) -> AesGcmParams {
    let params = AesGcmParams::new("AES-GCM", &Uint8Array::from(nonce));
    params.set_additional_data_u8_array(&Uint8Array::from(aad));
    params.set_tag_length(128);
    params
}

/// `ciphertext ‖ tag` of `plaintext`, as a promise of an `ArrayBuffer`.
pub fn seal(
    key: &CryptoKey,
    nonce: &[u8],
    aad: &[u8],
    plaintext: &Uint8Array,
) -> Result<Promise, JsValue> {
    subtle()?.encrypt_with_object_and_js_u8_array(&params(nonce, aad), key, plaintext)
}

/// The plaintext of `sealed` (`ciphertext ‖ tag`), as a promise of an `ArrayBuffer` that
/// rejects if the tag does not verify.
pub fn open(
    key: &CryptoKey,
    nonce: &[u8],
    aad: &[u8],
    sealed: &Uint8Array,
) -> Result<Promise, JsValue> {
    subtle()?.decrypt_with_object_and_js_u8_array(&params(nonce, aad), key, sealed)
}

/// The finished encrypted frame, in JavaScript memory: clear prefix of `frame` ‖ header ‖
/// WebCrypto's `sealed` output. Same bytes as `ExternalSeal::assemble`, without a trip
/// through wasm memory.
pub fn assemble_sealed(
    plan: &ExternalSeal,
    frame: &Uint8Array,
    sealed: &ArrayBuffer,
) -> Uint8Array {
    let out = Uint8Array::new_with_length(plan.sealed_frame_len(frame.length() as usize) as u32);
    let prefix = plan.prefix_len as u32;
    out.set(&frame.subarray(0, prefix), 0);
    out.set(&Uint8Array::from(plan.header_bytes()), prefix);
    out.set(
        &Uint8Array::new(sealed),
        prefix + plan.header_bytes().len() as u32,
    );
    out
}

/// The decrypted frame, in JavaScript memory: clear prefix of `frame` ‖ WebCrypto's
/// `plaintext`. Only for a frame the decryptor accepted.
pub fn assemble_opened(
    plan: &ExternalOpen,
    frame: &Uint8Array,
    plaintext: &ArrayBuffer,
) -> Uint8Array {
    let out = Uint8Array::new_with_length(plan.opened_frame_len(frame.length() as usize) as u32);
    let prefix = plan.prefix_len as u32;
    out.set(&frame.subarray(0, prefix), 0);
    out.set(&Uint8Array::new(plaintext), prefix);
    out
}
