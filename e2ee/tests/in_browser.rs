//! The e2ee core inside real browsers (headless Chromium and Firefox, through
//! `wasm-bindgen-test-runner`): the RFC vectors, the README's worked example, and frame round
//! trips and tampering for every codec, compiled to wasm32 exactly as the app ships it.
#![cfg(target_arch = "wasm32")]

mod common;

use common::frames::every_codec;
use veilig_e2ee::{BaseKey, CipherSuite, FrameDecryptor, FrameEncryptor, Kid, SourceId};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn rfc9605_header_vectors() {
    assert_eq!(common::check_header_vectors(), 289);
}

#[wasm_bindgen_test]
fn rfc9605_aes_gcm_vectors() {
    assert_eq!(common::check_sframe_vectors(), 2);
}

#[wasm_bindgen_test]
fn readme_worked_example() {
    let rendered = common::readme::render();
    assert_eq!(
        common::readme::readme_block().as_deref(),
        Some(rendered.as_str())
    );
}

#[wasm_bindgen_test]
fn every_codec_round_trips_and_every_flipped_byte_is_caught() {
    let base = BaseKey::new(&[9; 32]);
    for suite in [CipherSuite::Aes128GcmSha256, CipherSuite::Aes256GcmSha512] {
        let mut sender = FrameEncryptor::new(suite, &base, Kid(0x0bad_cafe_f00d));
        let mut receiver = FrameDecryptor::new(suite, &base);
        let (mut wire, mut plain) = (Vec::new(), Vec::new());
        for (codec, frame, _) in every_codec(120) {
            sender.encrypt(codec, &frame, &mut wire).unwrap();
            for index in 0..wire.len() {
                let mut tampered = wire.clone();
                tampered[index] ^= 0x41;
                assert!(
                    receiver
                        .decrypt(SourceId(1), codec, &tampered, &mut plain)
                        .is_err(),
                    "{codec:?} byte {index}"
                );
                assert!(plain.is_empty());
            }
            receiver
                .decrypt(SourceId(1), codec, &wire, &mut plain)
                .unwrap();
            assert_eq!(plain, frame);
        }
    }
}
