#![cfg(not(target_arch = "wasm32"))]
//! Frame encryption end to end through the public API: layout per codec, round trips,
//! tampering, replay, wrong keys, KID collisions, retired KIDs and counter exhaustion.

mod common;

use common::frames::{every_codec, opus, vp8_delta};
use proptest::prelude::*;
use veilig_e2ee::header::Header;
use veilig_e2ee::receiver::DecryptorLimits;
use veilig_e2ee::suite::TAG_LEN;
use veilig_e2ee::{
    BaseKey, CipherSuite, Codec, Counter, DecryptError, DropReason, EncryptError, FrameDecryptor,
    FrameEncryptor, Kid, SourceId,
};

const SUITES: [CipherSuite; 2] = [CipherSuite::Aes128GcmSha256, CipherSuite::Aes256GcmSha512];
const ALICE: SourceId = SourceId(1);
const BOB: SourceId = SourceId(2);

fn base() -> BaseKey {
    BaseKey::new(b"veilig test base key, 32 bytes!!")
}

#[test]
fn every_codec_keeps_its_prefix_clear_and_round_trips() {
    for suite in SUITES {
        for len in [40, 1000, 10_000] {
            let mut sender = FrameEncryptor::new(suite, &base(), Kid(0x1234_5678_9abc_def0));
            let mut receiver = FrameDecryptor::new(suite, &base());
            for (codec, frame, prefix) in every_codec(len) {
                let what = format!("{suite:?} {codec:?} {len} B");
                let mut wire = Vec::new();
                let header = sender
                    .encrypt(codec, &frame, &mut wire)
                    .unwrap()
                    .expect("non-empty frame");
                assert_eq!(wire[..prefix], frame[..prefix], "{what}: clear prefix");
                assert_eq!(
                    codec.clear_prefix_len(&wire),
                    Ok(prefix),
                    "{what}: receiver finds the prefix"
                );
                if codec.escapes_start_codes() {
                    let tail = &wire[prefix..];
                    assert!(
                        !tail.windows(3).any(|w| w[0] == 0 && w[1] == 0 && w[2] <= 2),
                        "{what}: start code in tail"
                    );
                } else {
                    assert_eq!(
                        Header::parse(&wire[prefix..]),
                        Ok((header, header.encoded_len())),
                        "{what}: header"
                    );
                    assert_eq!(
                        wire.len(),
                        frame.len() + header.encoded_len() + TAG_LEN,
                        "{what}: overhead"
                    );
                    let ciphertext = &wire[prefix + header.encoded_len()..wire.len() - TAG_LEN];
                    assert_ne!(
                        ciphertext,
                        &frame[prefix..],
                        "{what}: payload must not be in the clear"
                    );
                }
                let mut plain = Vec::new();
                assert_eq!(
                    receiver.decrypt(ALICE, codec, &wire, &mut plain),
                    Ok(Some(header)),
                    "{what}"
                );
                assert_eq!(plain, frame, "{what}: plaintext");
            }
        }
    }
}

#[test]
fn zero_length_frames_pass_through_without_a_counter() {
    let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(9));
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let mut out = vec![1, 2, 3];
    assert_eq!(sender.encrypt(Codec::Vp8, &[], &mut out), Ok(None));
    assert!(out.is_empty());
    assert_eq!(sender.next_counter(), Some(Counter(0)));
    out.push(7);
    assert_eq!(receiver.decrypt(ALICE, Codec::Vp8, &[], &mut out), Ok(None));
    assert!(out.is_empty());
}

#[test]
fn frames_shorter_than_their_prefix_are_refused_not_sent_in_the_clear() {
    let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(9));
    let mut out = Vec::new();
    let short_key_frame = [0x50, 0x2a, 0x00, 0x9d];
    assert!(matches!(
        sender.encrypt(Codec::Vp8, &short_key_frame, &mut out),
        Err(EncryptError::Codec(_))
    ));
    assert!(out.is_empty());
    assert!(matches!(
        sender.encrypt(Codec::H264, &[0x65, 1, 2], &mut out),
        Err(EncryptError::Codec(_))
    ));
}

#[test]
fn a_frame_exactly_as_long_as_its_clear_prefix_round_trips() {
    // A 1-byte Opus frame (a DTX frame is its TOC byte alone), a bare VP8 frame tag, a key
    // frame's 10 bytes, an H.264 frame that ends at its slice's NAL header: nothing to encrypt,
    // yet the frame is sealed (header and tag), authenticated, and opens to itself.
    let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(9));
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let mut checked = 0;
    for (codec, frame, prefix) in every_codec(300).into_iter().filter(|(_, _, p)| *p > 0) {
        let frame = &frame[..prefix];
        let mut wire = Vec::new();
        let header = sender
            .encrypt(codec, frame, &mut wire)
            .unwrap_or_else(|e| panic!("{codec:?} frame of {prefix} bytes: {e:?}"))
            .expect("a sealed frame");
        assert_eq!(&wire[..prefix], frame, "{codec:?}");
        if !codec.escapes_start_codes() {
            assert_eq!(
                wire.len(),
                prefix + header.encoded_len() + TAG_LEN,
                "{codec:?}: prefix, header and tag"
            );
        }
        let mut plain = Vec::new();
        let mut forged = wire.clone();
        *forged.last_mut().unwrap() ^= 1;
        assert_eq!(
            receiver.decrypt(ALICE, codec, &forged, &mut plain),
            Err(DecryptError::Authentication),
            "{codec:?}: the tag still guards the prefix"
        );
        assert_eq!(
            receiver.decrypt(ALICE, codec, &wire, &mut plain),
            Ok(Some(header)),
            "{codec:?}"
        );
        assert_eq!(plain, frame, "{codec:?}");
        checked += 1;
    }
    assert_eq!(checked, 5, "Opus, VP8 key and delta, H.264 IDR and delta");
}

#[test]
fn a_forged_frame_does_not_move_the_replay_window() {
    // The README: "a 128-frame sliding replay window, updated only after authentication". A
    // forged frame far ahead (counter 1,000, under a live KID, tag wrong) must leave the window
    // where it was, or every honest frame after it would be "too old".
    let mut alice = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(5));
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    let mut honest = Vec::new();
    for _ in 0..3 {
        alice.encrypt(Codec::Opus, &opus(60), &mut wire).unwrap();
        honest.push(wire.clone());
    }
    assert!(receiver
        .decrypt(ALICE, Codec::Opus, &honest[0], &mut plain)
        .is_ok());
    let mut ahead = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(5));
    ahead.advance_counter_to(1_000);
    ahead.encrypt(Codec::Opus, &opus(60), &mut wire).unwrap();
    *wire.last_mut().unwrap() ^= 0x80;
    assert_eq!(
        receiver.decrypt(ALICE, Codec::Opus, &wire, &mut plain),
        Err(DecryptError::Authentication)
    );
    // Both honest frames still open, in order and out of it (counter 2, then 1).
    for frame in [&honest[2], &honest[1]] {
        assert!(matches!(
            receiver.decrypt(ALICE, Codec::Opus, frame, &mut plain),
            Ok(Some(_))
        ));
    }
    let stats = receiver.stats(ALICE);
    assert_eq!((stats.decrypted, stats.bad_tag, stats.replay), (3, 1, 0));
}

#[test]
fn counters_rise_from_zero_and_never_wrap() {
    let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(77));
    let mut out = Vec::new();
    for expected in 0..5 {
        let header = sender
            .encrypt(Codec::Opus, &opus(50), &mut out)
            .unwrap()
            .unwrap();
        assert_eq!(header, Header::new(Kid(77), Counter(expected)));
    }
    sender.advance_counter_to(2);
    assert_eq!(
        sender.next_counter(),
        Some(Counter(5)),
        "the counter never goes back"
    );
    sender.advance_counter_to(u64::MAX);
    assert!(sender.encrypt(Codec::Opus, &opus(50), &mut out).is_ok());
    assert_eq!(
        sender.encrypt(Codec::Opus, &opus(50), &mut out),
        Err(EncryptError::CounterExhausted(Kid(77)))
    );
    assert!(out.is_empty());
}

#[test]
fn replayed_frames_are_dropped_and_counted() {
    let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(5));
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    let mut frames = Vec::new();
    for _ in 0..3 {
        sender
            .encrypt(Codec::Vp8, &vp8_delta(200), &mut wire)
            .unwrap();
        frames.push(wire.clone());
    }
    // Out of order is fine; twice is not.
    for index in [2, 0, 1] {
        assert!(receiver
            .decrypt(ALICE, Codec::Vp8, &frames[index], &mut plain)
            .is_ok());
    }
    let replay = receiver.decrypt(ALICE, Codec::Vp8, &frames[1], &mut plain);
    assert!(
        matches!(
            replay,
            Err(DecryptError::Replay {
                kid: Kid(5),
                ctr: Counter(1),
                ..
            })
        ),
        "{replay:?}"
    );
    assert!(plain.is_empty());
    let stats = receiver.stats(ALICE);
    assert_eq!((stats.decrypted, stats.replay), (3, 1));
}

#[test]
fn a_wrong_key_decrypts_nothing() {
    let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(5));
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &BaseKey::new(b"another key"));
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    for (codec, frame, _) in every_codec(300) {
        sender.encrypt(codec, &frame, &mut wire).unwrap();
        assert_eq!(
            receiver.decrypt(ALICE, codec, &wire, &mut plain),
            Err(DecryptError::Authentication)
        );
        assert!(plain.is_empty());
    }
    assert_eq!(receiver.stats(ALICE).bad_tag, 7);
    assert_eq!(receiver.stats(ALICE).decrypted, 0);
}

#[test]
fn plaintext_frames_are_not_mistaken_for_ciphertext() {
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let mut plain = Vec::new();
    for (codec, frame, _) in every_codec(300) {
        let error = receiver
            .decrypt(ALICE, codec, &frame, &mut plain)
            .unwrap_err();
        assert!(
            matches!(
                error.reason(),
                DropReason::BadTag | DropReason::UnknownFormat
            ),
            "{codec:?}: {error:?}"
        );
        assert!(plain.is_empty());
    }
}

#[test]
fn two_senders_sharing_a_kid_are_detected() {
    let kid = Kid(0xdead_beef);
    let mut alice = FrameEncryptor::new(CipherSuite::default(), &base(), kid);
    let mut mallory = FrameEncryptor::new(CipherSuite::default(), &base(), kid);
    mallory.advance_counter_to(100);
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    alice.encrypt(Codec::Opus, &opus(80), &mut wire).unwrap();
    assert!(receiver
        .decrypt(ALICE, Codec::Opus, &wire, &mut plain)
        .is_ok());
    mallory.encrypt(Codec::Opus, &opus(80), &mut wire).unwrap();
    assert_eq!(
        receiver.decrypt(BOB, Codec::Opus, &wire, &mut plain),
        Err(DecryptError::KidCollision {
            kid,
            owner: Some(ALICE)
        })
    );
    assert!(plain.is_empty());
    assert_eq!(receiver.stats(BOB).kid_collision, 1);
    // Alice's own stream carries on.
    alice.encrypt(Codec::Opus, &opus(80), &mut wire).unwrap();
    assert!(receiver
        .decrypt(ALICE, Codec::Opus, &wire, &mut plain)
        .is_ok());
}

#[test]
fn our_own_frames_reflected_back_are_a_collision() {
    let kid = Kid(42_000);
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    receiver.claim_local(kid).unwrap();
    assert!(receiver.claim_local(kid).is_err(), "a KID is claimed once");
    let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), kid);
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    sender
        .encrypt(Codec::Vp8, &vp8_delta(100), &mut wire)
        .unwrap();
    assert_eq!(
        receiver.decrypt(BOB, Codec::Vp8, &wire, &mut plain),
        Err(DecryptError::KidCollision { kid, owner: None })
    );
    // A remote KID cannot be claimed for a local sender either.
    let mut bob = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(7_000));
    bob.encrypt(Codec::Vp8, &vp8_delta(100), &mut wire).unwrap();
    receiver
        .decrypt(BOB, Codec::Vp8, &wire, &mut plain)
        .unwrap();
    assert!(receiver.claim_local(Kid(7_000)).is_err());
    // A released local KID is retired for good.
    receiver.release_local(kid);
    assert!(receiver.claim_local(kid).is_err());
}

#[test]
fn a_source_rotating_kids_retires_its_own_oldest_and_they_stay_retired() {
    let live = DecryptorLimits::default().live_per_source;
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    for kid in 0..10u64 {
        let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(1000 + kid));
        sender.encrypt(Codec::Opus, &opus(60), &mut wire).unwrap();
        assert!(receiver
            .decrypt(ALICE, Codec::Opus, &wire, &mut plain)
            .is_ok());
    }
    let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(1000));
    sender.advance_counter_to(1);
    sender.encrypt(Codec::Opus, &opus(60), &mut wire).unwrap();
    assert_eq!(
        receiver.decrypt(ALICE, Codec::Opus, &wire, &mut plain),
        Err(DecryptError::RetiredKid(Kid(1000)))
    );
    assert_eq!(receiver.stats(ALICE).retired, 1);
    assert_eq!(receiver.stored().live, live);
    assert_eq!(receiver.stored().retired, 10 - live);
}

#[test]
fn a_source_that_leaves_has_its_kids_retired() {
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(31));
    let (mut wire, mut plain) = (Vec::new(), Vec::new());
    sender.encrypt(Codec::Opus, &opus(60), &mut wire).unwrap();
    receiver
        .decrypt(ALICE, Codec::Opus, &wire, &mut plain)
        .unwrap();
    receiver.forget_source(ALICE);
    assert_eq!(receiver.stats(ALICE).decrypted, 0);
    sender.encrypt(Codec::Opus, &opus(60), &mut wire).unwrap();
    assert_eq!(
        receiver.decrypt(ALICE, Codec::Opus, &wire, &mut plain),
        Err(DecryptError::RetiredKid(Kid(31)))
    );
}

#[test]
fn messages_are_bound_to_their_context() {
    let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(3));
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let (mut sealed, mut opened) = (Vec::new(), Vec::new());
    sender
        .seal_message(b"chat", "hallo allemaal".as_bytes(), &mut sealed)
        .unwrap();
    assert_eq!(
        receiver.open_message(ALICE, b"name", &sealed, &mut opened),
        Err(DecryptError::Authentication)
    );
    assert!(receiver
        .open_message(ALICE, b"chat", &sealed, &mut opened)
        .is_ok());
    assert_eq!(opened, "hallo allemaal".as_bytes());
    assert!(matches!(
        receiver.open_message(ALICE, b"chat", &sealed, &mut opened),
        Err(DecryptError::Replay { .. })
    ));
}

fn codec_strategy() -> impl Strategy<Value = usize> {
    0..every_codec(64).len()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Changing any single byte of an encrypted frame (prefix, header, ciphertext or tag) makes
    /// it undecryptable, and the receiver hands out nothing.
    #[test]
    fn tampering_with_any_byte_is_rejected(
        which in codec_strategy(),
        len in 24usize..600,
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let (codec, frame, _) = every_codec(len).swap_remove(which);
        let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(0xabcdef));
        let mut wire = Vec::new();
        sender.encrypt(codec, &frame, &mut wire).unwrap();
        let index = position.index(wire.len());
        wire[index] ^= flip;
        let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
        let mut plain = vec![0xee];
        let result = receiver.decrypt(ALICE, codec, &wire, &mut plain);
        prop_assert!(result.is_err(), "flipping byte {} of {:?} went unnoticed", index, codec);
        prop_assert!(plain.is_empty());
    }

    /// Truncating or extending an encrypted frame is rejected too.
    #[test]
    fn resizing_is_rejected(which in codec_strategy(), len in 24usize..300, cut in any::<prop::sample::Index>(), extra in any::<u8>()) {
        let (codec, frame, _) = every_codec(len).swap_remove(which);
        let mut sender = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(0xabcdef));
        let mut wire = Vec::new();
        sender.encrypt(codec, &frame, &mut wire).unwrap();
        let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
        let mut plain = Vec::new();
        let truncated = &wire[..cut.index(wire.len())];
        if !truncated.is_empty() {
            prop_assert!(receiver.decrypt(ALICE, codec, truncated, &mut plain).is_err());
            prop_assert!(plain.is_empty());
        }
        let mut extended = wire.clone();
        extended.push(extra);
        prop_assert!(receiver.decrypt(ALICE, codec, &extended, &mut plain).is_err());
        prop_assert!(plain.is_empty());
    }

    /// Arbitrary bytes never panic the receiver and never come out as plaintext.
    #[test]
    fn arbitrary_input_is_dropped(which in codec_strategy(), input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let (codec, _, _) = every_codec(64).swap_remove(which);
        let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
        let mut plain = Vec::new();
        match receiver.decrypt(ALICE, codec, &input, &mut plain) {
            Ok(None) => prop_assert!(input.is_empty() && plain.is_empty()),
            Ok(Some(_)) => prop_assert!(false, "random bytes authenticated"),
            Err(_) => prop_assert!(plain.is_empty()),
        }
    }
}
