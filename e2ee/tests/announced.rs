#![cfg(not(target_arch = "wasm32"))]
//! Announced KIDs (issue 17, finding 3): a frame is accepted only under a KID that the
//! participant its line is attributed to announced, in a note sealed by themselves. A relay
//! that passes Alice's frames off on Bob's line, or invents a sender, gets them dropped as
//! `unannounced`, before any decryption, on both engines' paths.

mod common;

use common::frames::{opus, vp8_delta};
use veilig_e2ee::{
    BaseKey, CipherSuite, Codec, Counter, DecryptError, DropReason, FrameDecryptor, FrameEncryptor,
    Kid, SourceId,
};

const ALICE_LINE: SourceId = SourceId(1);
const BOB_LINE: SourceId = SourceId(2);

fn base() -> BaseKey {
    BaseKey::new(b"veilig test base key, 32 bytes!!")
}

fn sealed(sender: &mut FrameEncryptor) -> Vec<u8> {
    let mut wire = Vec::new();
    sender
        .encrypt(Codec::Vp8, &vp8_delta(50), &mut wire)
        .unwrap();
    wire
}

#[test]
fn only_announced_kids_open_on_their_own_line() {
    let mut alice = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(11));
    let mut bob = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(22));
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    receiver.require_announced();
    let mut plain = Vec::new();

    // Before any announcement nothing opens, not even a genuine frame.
    let early = receiver.decrypt(ALICE_LINE, Codec::Vp8, &sealed(&mut alice), &mut plain);
    assert_eq!(early, Err(DecryptError::Unannounced(Kid(11))));
    assert!(plain.is_empty());

    receiver.announce(ALICE_LINE, &[Kid(11)]);
    receiver.announce(BOB_LINE, &[Kid(22)]);
    assert!(receiver
        .decrypt(ALICE_LINE, Codec::Vp8, &sealed(&mut alice), &mut plain)
        .unwrap()
        .is_some());
    // Alice's frames on Bob's line: dropped before decryption.
    let swapped = receiver.decrypt(BOB_LINE, Codec::Vp8, &sealed(&mut alice), &mut plain);
    assert_eq!(swapped.unwrap_err().reason(), DropReason::Unannounced);
    assert!(plain.is_empty());
    // An invented sender under a fresh KID on Bob's line.
    let mut mallory = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(666));
    assert!(receiver
        .decrypt(BOB_LINE, Codec::Vp8, &sealed(&mut mallory), &mut plain)
        .is_err());
    assert!(receiver
        .decrypt(BOB_LINE, Codec::Vp8, &sealed(&mut bob), &mut plain)
        .unwrap()
        .is_some());
    assert_eq!(receiver.stats(BOB_LINE).unannounced, 2);
    assert_eq!(receiver.stats(BOB_LINE).decrypted, 1);
    assert_eq!(receiver.stats(ALICE_LINE).unannounced, 1);

    // A new announcement replaces the old one (a track restarted under a new KID).
    receiver.announce(ALICE_LINE, &[Kid(12)]);
    assert_eq!(
        receiver.decrypt(ALICE_LINE, Codec::Vp8, &sealed(&mut alice), &mut plain),
        Err(DecryptError::Unannounced(Kid(11)))
    );
}

#[test]
fn the_external_path_checks_announcements_too() {
    let mut alice = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(11));
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    receiver.announce(BOB_LINE, &[Kid(22)]);
    let mut wire = Vec::new();
    alice.encrypt(Codec::Opus, &opus(60), &mut wire).unwrap();
    assert_eq!(
        receiver
            .begin_external(BOB_LINE, Codec::Opus, &wire)
            .unwrap_err(),
        DecryptError::Unannounced(Kid(11))
    );
    receiver.announce(ALICE_LINE, &[Kid(11)]);
    let plan = receiver
        .begin_external(ALICE_LINE, Codec::Opus, &wire)
        .unwrap()
        .unwrap();
    // Announcements withdrawn while the frame was in the engine: refused at the finish.
    receiver.announce(ALICE_LINE, &[]);
    assert_eq!(
        receiver.finish_external(ALICE_LINE, &plan, true),
        Err(DecryptError::Unannounced(Kid(11)))
    );
    assert_eq!(receiver.stats(ALICE_LINE).unannounced, 1);
    assert_eq!(receiver.stats(BOB_LINE).unannounced, 1);
}

#[test]
fn without_announcements_required_nothing_changes() {
    let mut alice = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(11));
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    let mut plain = Vec::new();
    assert!(receiver
        .decrypt(BOB_LINE, Codec::Vp8, &sealed(&mut alice), &mut plain)
        .unwrap()
        .is_some());
}

/// After a reconnect the receiver's decryptor starts afresh, with no replay window: the floor
/// announced with a KID keeps frames recorded before the announcement from playing again.
#[test]
fn frames_below_the_announced_floor_are_replays() {
    let mut alice = FrameEncryptor::new(CipherSuite::default(), &base(), Kid(11));
    let recorded: Vec<Vec<u8>> = (0..20).map(|_| sealed(&mut alice)).collect();
    // Alice announces again (to someone who just reconnected) with her counter now, 20.
    let mut receiver = FrameDecryptor::new(CipherSuite::default(), &base());
    receiver.announce_from(ALICE_LINE, &[(Kid(11), Counter(20))]);
    let mut plain = Vec::new();
    for frame in &recorded {
        let replayed = receiver.decrypt(ALICE_LINE, Codec::Vp8, frame, &mut plain);
        assert_eq!(replayed.unwrap_err().reason(), DropReason::Replay);
    }
    assert!(receiver
        .decrypt(ALICE_LINE, Codec::Vp8, &sealed(&mut alice), &mut plain)
        .unwrap()
        .is_some());
    // A replayed older announcement cannot lower the floor.
    receiver.announce_from(ALICE_LINE, &[(Kid(11), Counter(0))]);
    assert_eq!(
        receiver
            .decrypt(ALICE_LINE, Codec::Vp8, &recorded[5], &mut plain)
            .unwrap_err()
            .reason(),
        DropReason::Replay
    );
    assert_eq!(receiver.stats(ALICE_LINE).replay, 21);
}
