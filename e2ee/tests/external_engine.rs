#![cfg(not(target_arch = "wasm32"))]
//! The external-engine path (`begin_external`/`finish_external`) against the in-crate one: the
//! same frames give the same bytes, and the receiver's checks hold whichever engine ran.
//!
//! The "external engine" here is the `aes-gcm` crate's one-shot API (`ciphertext ‖ tag` out,
//! like WebCrypto), not the crate's own `SframeKey`, so the test would notice a nonce, key or
//! associated-data mistake in the plans.

mod common;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce};
use common::frames::every_codec;
use proptest::prelude::*;
use veilig_e2ee::receiver::{DecryptorLimits, KidLimit};
use veilig_e2ee::suite::KeyMaterial;
use veilig_e2ee::{
    BaseKey, CipherSuite, Codec, DecryptError, DropReason, FrameDecryptor, FrameEncryptor, Kid,
    SourceId,
};

const SUITES: [CipherSuite; 2] = [CipherSuite::Aes128GcmSha256, CipherSuite::Aes256GcmSha512];
const ALICE: SourceId = SourceId(1);
const BOB: SourceId = SourceId(2);
const KID: Kid = Kid(0x0bad_cafe_0042);

fn base() -> BaseKey {
    BaseKey::new(b"veilig test base key, 32 bytes!!")
}

/// What WebCrypto's `encrypt` does: `ciphertext ‖ tag`.
fn engine_seal(
    suite: CipherSuite,
    material: &KeyMaterial,
    nonce: &[u8; 12],
    aad: &[u8],
    plaintext: &[u8],
) -> Vec<u8> {
    let payload = Payload {
        msg: plaintext,
        aad,
    };
    let nonce = Nonce::from(*nonce);
    match suite {
        CipherSuite::Aes128GcmSha256 => Aes128Gcm::new_from_slice(material.key(suite))
            .unwrap()
            .encrypt(&nonce, payload),
        CipherSuite::Aes256GcmSha512 => Aes256Gcm::new_from_slice(material.key(suite))
            .unwrap()
            .encrypt(&nonce, payload),
    }
    .unwrap()
}

/// What WebCrypto's `decrypt` does: the plaintext, or an error if the tag does not verify.
fn engine_open(
    suite: CipherSuite,
    material: &KeyMaterial,
    nonce: &[u8; 12],
    aad: &[u8],
    sealed: &[u8],
) -> Option<Vec<u8>> {
    let payload = Payload { msg: sealed, aad };
    let nonce = Nonce::from(*nonce);
    match suite {
        CipherSuite::Aes128GcmSha256 => Aes128Gcm::new_from_slice(material.key(suite))
            .unwrap()
            .decrypt(&nonce, payload),
        CipherSuite::Aes256GcmSha512 => Aes256Gcm::new_from_slice(material.key(suite))
            .unwrap()
            .decrypt(&nonce, payload),
    }
    .ok()
}

fn seal_externally(sender: &mut FrameEncryptor, codec: Codec, frame: &[u8]) -> Vec<u8> {
    let plan = sender
        .begin_external(codec, frame)
        .unwrap()
        .expect("non-empty frame");
    let mut aad = Vec::new();
    plan.aad(frame, &mut aad);
    let (material, suite) = sender.key_material();
    let sealed = engine_seal(suite, material, &plan.nonce, &aad, plan.plaintext(frame));
    let mut out = Vec::new();
    plan.assemble(frame, &sealed, &mut out);
    assert_eq!(out.len(), plan.sealed_frame_len(frame.len()));
    out
}

fn open_externally(
    receiver: &mut FrameDecryptor,
    suite: CipherSuite,
    source: SourceId,
    codec: Codec,
    frame: &[u8],
) -> Result<Vec<u8>, DecryptError> {
    let plan = receiver
        .begin_external(source, codec, frame)?
        .expect("non-empty frame");
    let material = receiver.key_material(plan.header.kid);
    let mut aad = Vec::new();
    plan.aad(frame, &mut aad);
    let opened = engine_open(
        suite,
        &material,
        &material.nonce(plan.header.ctr),
        &aad,
        &frame[plan.sealed_range(frame.len())],
    );
    receiver.finish_external(source, &plan, opened.is_some())?;
    let mut out = Vec::new();
    plan.assemble(frame, &opened.unwrap(), &mut out);
    assert_eq!(out.len(), plan.opened_frame_len(frame.len()));
    Ok(out)
}

fn codecs_without_escaping(len: usize) -> impl Iterator<Item = (Codec, Vec<u8>)> {
    every_codec(len)
        .into_iter()
        .filter(|(codec, _, _)| !codec.escapes_start_codes())
        .map(|(codec, frame, _)| (codec, frame))
}

#[test]
fn both_engines_produce_identical_frames_and_open_each_others() {
    for suite in SUITES {
        for len in [40, 100, 1000, 10_000, 100_000] {
            let mut internal = FrameEncryptor::new(suite, &base(), KID);
            let mut external = FrameEncryptor::new(suite, &base(), KID);
            let mut by_internal = FrameDecryptor::new(suite, &base());
            let mut by_external = FrameDecryptor::new(suite, &base());
            for (codec, frame) in codecs_without_escaping(len) {
                let what = format!("{suite:?} {codec:?} {len} B");
                let mut wire = Vec::new();
                internal.encrypt(codec, &frame, &mut wire).unwrap();
                assert_eq!(
                    seal_externally(&mut external, codec, &frame),
                    wire,
                    "{what}: engines differ"
                );
                let opened = open_externally(&mut by_external, suite, ALICE, codec, &wire)
                    .unwrap_or_else(|e| panic!("{what}: external open: {e}"));
                assert_eq!(opened, frame, "{what}: external open");
                let mut plain = Vec::new();
                by_internal
                    .decrypt(ALICE, codec, &wire, &mut plain)
                    .unwrap();
                assert_eq!(plain, frame, "{what}: internal open");
            }
            assert_eq!(
                by_external.stats(ALICE),
                by_internal.stats(ALICE),
                "{suite:?} {len} B: both decryptors count alike"
            );
        }
    }
}

#[test]
fn engines_can_alternate_frame_by_frame_on_one_track() {
    let suite = CipherSuite::default();
    let mut sender = FrameEncryptor::new(suite, &base(), KID);
    let mut receiver = FrameDecryptor::new(suite, &base());
    let frames: Vec<Vec<u8>> = (0..40)
        .map(|i| common::frames::vp8_delta(50 + i * 300))
        .collect();
    for (i, frame) in frames.iter().enumerate() {
        let wire = if i % 3 == 0 {
            seal_externally(&mut sender, Codec::Vp8, frame)
        } else {
            let mut wire = Vec::new();
            sender.encrypt(Codec::Vp8, frame, &mut wire).unwrap();
            wire
        };
        let opened = if i % 2 == 0 {
            open_externally(&mut receiver, suite, ALICE, Codec::Vp8, &wire).unwrap()
        } else {
            let mut out = Vec::new();
            receiver
                .decrypt(ALICE, Codec::Vp8, &wire, &mut out)
                .unwrap();
            out
        };
        assert_eq!(&opened, frame, "frame {i}");
    }
    assert_eq!(receiver.stats(ALICE).decrypted, 40);
    assert_eq!(
        sender.next_counter().unwrap().0,
        40,
        "one counter per frame"
    );
}

#[test]
fn the_receiver_checks_hold_on_the_external_path() {
    let suite = CipherSuite::default();
    let mut sender = FrameEncryptor::new(suite, &base(), KID);
    let mut receiver = FrameDecryptor::new(suite, &base());
    let frame = common::frames::vp8_delta(500);
    let wire = seal_externally(&mut sender, Codec::Vp8, &frame);

    // Tampered: the engine refuses, nothing is accepted, and it counts as a bad tag.
    let mut tampered = wire.clone();
    tampered[1] ^= 0x10; // in the clear prefix, which is authenticated
    assert_eq!(
        open_externally(&mut receiver, suite, ALICE, Codec::Vp8, &tampered),
        Err(DecryptError::Authentication)
    );

    // A wrong key never authenticates.
    let mut stranger = FrameDecryptor::new(suite, &BaseKey::new(b"another key"));
    assert_eq!(
        open_externally(&mut stranger, suite, ALICE, Codec::Vp8, &wire),
        Err(DecryptError::Authentication)
    );

    // The genuine frame once, then its replay.
    assert_eq!(
        open_externally(&mut receiver, suite, ALICE, Codec::Vp8, &wire).unwrap(),
        frame
    );
    let replayed = open_externally(&mut receiver, suite, ALICE, Codec::Vp8, &wire);
    assert_eq!(replayed.unwrap_err().reason(), DropReason::Replay);

    // Another source replaying Alice's next frame as its own: a KID collision.
    let next = seal_externally(&mut sender, Codec::Vp8, &frame);
    let stolen = open_externally(&mut receiver, suite, BOB, Codec::Vp8, &next);
    assert_eq!(stolen.unwrap_err().reason(), DropReason::KidCollision);

    // Not an SFrame at all.
    assert_eq!(
        open_externally(&mut receiver, suite, ALICE, Codec::Vp8, &[0x51, 0x00])
            .unwrap_err()
            .reason(),
        DropReason::UnknownFormat
    );

    let alice = receiver.stats(ALICE);
    assert_eq!(
        (
            alice.decrypted,
            alice.bad_tag,
            alice.replay,
            alice.unknown_format
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(receiver.stats(BOB).kid_collision, 1);
}

#[test]
fn a_kid_retired_while_a_frame_was_in_the_engine_is_refused() {
    let suite = CipherSuite::default();
    let mut sender = FrameEncryptor::new(suite, &base(), KID);
    let mut receiver = FrameDecryptor::new(suite, &base());
    let first = seal_externally(&mut sender, Codec::Opus, &common::frames::opus(80));
    open_externally(&mut receiver, suite, ALICE, Codec::Opus, &first).unwrap();

    let second = seal_externally(&mut sender, Codec::Opus, &common::frames::opus(80));
    let plan = receiver
        .begin_external(ALICE, Codec::Opus, &second)
        .unwrap()
        .unwrap();
    receiver.forget_source(ALICE); // Alice left while the engine worked
    assert_eq!(
        receiver.finish_external(ALICE, &plan, true),
        Err(DecryptError::RetiredKid(KID))
    );
}

#[test]
fn a_new_kid_over_a_limit_is_refused_on_the_external_path() {
    let suite = CipherSuite::default();
    let limits = DecryptorLimits {
        max_sources: 1,
        ..DecryptorLimits::default()
    };
    let mut receiver = FrameDecryptor::with_limits(suite, &base(), limits);
    let mut alice = FrameEncryptor::new(suite, &base(), KID);
    let mut bob = FrameEncryptor::new(suite, &base(), Kid(KID.0 + 1));
    let frame = common::frames::opus(80);
    let from_alice = seal_externally(&mut alice, Codec::Opus, &frame);
    open_externally(&mut receiver, suite, ALICE, Codec::Opus, &from_alice).unwrap();
    let from_bob = seal_externally(&mut bob, Codec::Opus, &frame);
    assert_eq!(
        open_externally(&mut receiver, suite, BOB, Codec::Opus, &from_bob),
        Err(DecryptError::KidLimit {
            kid: Kid(KID.0 + 1),
            limit: KidLimit::Sources
        })
    );
    assert_eq!(receiver.stats(BOB).over_limit, 1);
    assert!(!receiver.knows_remote(Kid(KID.0 + 1)));
}

#[test]
fn empty_frames_pass_through_without_a_counter() {
    let suite = CipherSuite::default();
    let mut sender = FrameEncryptor::new(suite, &base(), KID);
    let mut receiver = FrameDecryptor::new(suite, &base());
    assert_eq!(sender.begin_external(Codec::Vp8, &[]), Ok(None));
    assert_eq!(sender.next_counter().unwrap().0, 0);
    assert_eq!(receiver.begin_external(ALICE, Codec::Vp8, &[]), Ok(None));
}

proptest! {
    #[test]
    fn any_frame_seals_identically_in_both_engines(
        frame in proptest::collection::vec(any::<u8>(), 1..3000),
        audio in any::<bool>(),
        skip in 0u64..1_000_000,
    ) {
        let codec = if audio { Codec::Opus } else { Codec::Vp8 };
        prop_assume!(frame.len() >= codec.clear_prefix_len(&frame).unwrap_or(usize::MAX));
        let suite = CipherSuite::default();
        let mut internal = FrameEncryptor::new(suite, &base(), KID);
        let mut external = FrameEncryptor::new(suite, &base(), KID);
        internal.advance_counter_to(skip);
        external.advance_counter_to(skip);
        let mut wire = Vec::new();
        internal.encrypt(codec, &frame, &mut wire).unwrap();
        prop_assert_eq!(seal_externally(&mut external, codec, &frame), wire);
    }
}

#[test]
fn invented_kids_and_forged_frames_change_nothing_on_the_external_path() {
    // `knows_remote` decides whether the worker imports a KID's key into WebCrypto
    // (`src/frame_crypto/keyring.rs`, `prepare_remote`): frames under KIDs a relay invents,
    // sealed without the room's key, must not make one known, nor may our own local KID count;
    // and a forged frame far ahead must not move the KID's replay window.
    let suite = CipherSuite::default();
    let mut receiver = FrameDecryptor::new(suite, &base());
    let frame = common::frames::opus(80);
    let stranger = BaseKey::new(b"not this room's key, 32 bytes!!!");
    for kid in 1..=20 {
        let mut relay = FrameEncryptor::new(suite, &stranger, Kid(kid));
        let invented = seal_externally(&mut relay, Codec::Opus, &frame);
        assert_eq!(
            open_externally(&mut receiver, suite, BOB, Codec::Opus, &invented),
            Err(DecryptError::Authentication)
        );
        let mut plain = Vec::new();
        assert_eq!(
            receiver.decrypt(BOB, Codec::Opus, &invented, &mut plain),
            Err(DecryptError::Authentication)
        );
        assert!(!receiver.knows_remote(Kid(kid)), "invented KID {kid}");
    }
    receiver.claim_local(Kid(999)).unwrap();
    assert!(
        !receiver.knows_remote(Kid(999)),
        "our own KID is not remote"
    );
    assert_eq!(receiver.stored().live, 1, "only our own KID is stored");

    let mut alice = FrameEncryptor::new(suite, &base(), KID);
    let honest: Vec<Vec<u8>> = (0..3)
        .map(|_| seal_externally(&mut alice, Codec::Opus, &frame))
        .collect();
    assert!(!receiver.knows_remote(KID));
    open_externally(&mut receiver, suite, ALICE, Codec::Opus, &honest[0]).unwrap();
    assert!(receiver.knows_remote(KID), "authenticated once: known");

    let mut ahead = FrameEncryptor::new(suite, &base(), KID);
    ahead.advance_counter_to(1_000);
    let mut forged = seal_externally(&mut ahead, Codec::Opus, &frame);
    *forged.last_mut().unwrap() ^= 0x80;
    assert_eq!(
        open_externally(&mut receiver, suite, ALICE, Codec::Opus, &forged),
        Err(DecryptError::Authentication)
    );
    for later in [&honest[2], &honest[1]] {
        assert_eq!(
            open_externally(&mut receiver, suite, ALICE, Codec::Opus, later),
            Ok(frame.clone()),
            "an honest frame after the forged one"
        );
    }
}
