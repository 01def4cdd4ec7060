//! The live epochs of one member: frames are routed to their epoch by the KID, the previous
//! epoch opens frames only for its overlap, and frames of an epoch we do not hold are dropped.

mod common;

use common::{psk, Meeting};
use veilig_e2ee::{Codec, SourceId};
use veilig_mls::keyring::{frame_kid, Dropped, EpochRing};

const OVERLAP_MS: u64 = 1_500;

fn seal(ring: &mut EpochRing, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    ring.encryptor()
        .unwrap()
        .encrypt(Codec::Opus, payload, &mut out)
        .unwrap()
        .unwrap();
    out
}

#[test]
fn the_previous_epoch_opens_frames_only_for_its_overlap() {
    let mut meeting = Meeting::new(psk("weekly", 1));
    meeting.join(0);
    let mut alice = EpochRing::new(OVERLAP_MS);
    let mut bob = EpochRing::new(OVERLAP_MS);
    alice.install(meeting.members[0].epoch_keys().unwrap(), 0);
    bob.install(meeting.members[1].epoch_keys().unwrap(), 0);
    let old_frame = seal(&mut bob, b"before the join");
    let mut out = Vec::new();
    let (sender, epoch) = alice
        .decrypt(SourceId(1), Codec::Opus, &old_frame, &mut out)
        .unwrap();
    assert_eq!(
        (sender.leaf, epoch),
        (meeting.members[1].leaf(), meeting.members[0].epoch())
    );
    assert_eq!(&out[1..], &b"before the join"[1..]);

    // Carol joins: Alice moves on at t = 10 s; Bob has not processed the commit yet, and his
    // frames are still under the old epoch.
    meeting.join(0);
    alice.install(meeting.members[0].epoch_keys().unwrap(), 10_000);
    assert_eq!(alice.previous_epoch(), Some(1));
    assert_eq!(alice.next_tick(), Some(10_000 + OVERLAP_MS));
    let late_frame = seal(&mut bob, b"still the old epoch");
    assert!(alice
        .decrypt(SourceId(1), Codec::Opus, &late_frame, &mut out)
        .is_ok());
    assert!(!alice.tick(10_000 + OVERLAP_MS - 1));
    assert!(
        alice.tick(10_000 + OVERLAP_MS),
        "erased at the end of the overlap"
    );
    assert_eq!(alice.previous_epoch(), None);
    let after = seal(&mut bob, b"after the overlap");
    assert!(matches!(
        alice.decrypt(SourceId(1), Codec::Opus, &after, &mut out),
        Err(Dropped::OtherEpoch)
    ));
    assert!(out.is_empty());

    // Bob moves on: his new frames open under the new epoch.
    bob.install(meeting.members[1].epoch_keys().unwrap(), 10_100);
    let new_frame = seal(&mut bob, b"new epoch");
    let (_, epoch) = alice
        .decrypt(SourceId(1), Codec::Opus, &new_frame, &mut out)
        .unwrap();
    assert_eq!(epoch, meeting.members[0].epoch());
}

#[test]
fn a_frame_of_an_epoch_not_yet_held_is_dropped_not_guessed() {
    let mut meeting = Meeting::new(psk("weekly", 2));
    meeting.join(0);
    let mut alice = EpochRing::new(OVERLAP_MS);
    alice.install(meeting.members[0].epoch_keys().unwrap(), 0);
    meeting.join(0);
    let mut bob = EpochRing::new(OVERLAP_MS);
    bob.install(meeting.members[1].epoch_keys().unwrap(), 0);
    let ahead = seal(&mut bob, b"from the future");
    let mut out = Vec::new();
    assert!(matches!(
        alice.decrypt(SourceId(1), Codec::Opus, &ahead, &mut out),
        Err(Dropped::OtherEpoch)
    ));
    let kid = frame_kid(Codec::Opus, &ahead).unwrap();
    assert!(matches!(
        alice.decryptor_from(SourceId(1), kid),
        Err(Dropped::OtherEpoch)
    ));
    // Counted per line, for the app to tell a sender out of step with us.
    assert_eq!(alice.other_epoch(SourceId(1)), 2);
    assert_eq!(alice.other_epoch(SourceId(2)), 0);
    let mut outsider = EpochRing::new(OVERLAP_MS);
    assert!(matches!(
        outsider.decrypt(SourceId(1), Codec::Opus, &ahead, &mut out),
        Err(Dropped::NoKeys)
    ));
    assert_eq!(
        outsider.other_epoch(SourceId(1)),
        0,
        "not joined: no keys, not out of step"
    );
}

#[test]
fn our_own_kids_and_free_leaves_are_nobodys() {
    let mut meeting = Meeting::new(psk("weekly", 3));
    meeting.join(0);
    let mut alice = EpochRing::new(OVERLAP_MS);
    alice.install(meeting.members[0].epoch_keys().unwrap(), 0);
    // Alice's own frame, reflected back by a relay.
    let own = seal(&mut alice, b"mine");
    let mut out = Vec::new();
    assert!(matches!(
        alice.decrypt(SourceId(1), Codec::Opus, &own, &mut out),
        Err(Dropped::NotAMember)
    ));
    // Every track gets its own stream context: KIDs never repeat within an epoch.
    let kids: Vec<_> = (0..3)
        .map(|_| frame_kid(Codec::Opus, &seal(&mut alice, b"x")).unwrap())
        .collect();
    assert!(
        kids[0] != kids[1]
            && kids[1] != kids[2]
            && kids[0] != frame_kid(Codec::Opus, &own).unwrap()
    );
    // Not SFrame at all.
    assert!(matches!(
        alice.decrypt(SourceId(1), Codec::Opus, &[0x78], &mut out),
        Err(Dropped::NoHeader)
    ));
    alice.clear();
    assert_eq!(alice.current_epoch(), None);
}

#[test]
fn a_line_opens_only_the_frames_of_the_member_it_is_from() {
    let mut meeting = Meeting::labelled(psk("weekly", 4), "alice");
    meeting.join_labelled(0, "bob");
    meeting.join_labelled(0, "carol");
    let mut rings: Vec<EpochRing> = meeting
        .members
        .iter()
        .map(|member| {
            let mut ring = EpochRing::new(OVERLAP_MS);
            ring.install(member.epoch_keys().unwrap(), 0);
            ring
        })
        .collect();
    let from_bob = seal(&mut rings[1], b"bob speaking");
    let from_carol = seal(&mut rings[2], b"carol speaking");
    let alice = &mut rings[0];
    alice.require_owners();
    let (bobs_line, carols_line, unbound) = (SourceId(1), SourceId(2), SourceId(3));
    alice.bind(bobs_line, b"bob");
    alice.bind(carols_line, b"carol");
    let mut out = Vec::new();

    assert!(alice
        .decrypt(bobs_line, Codec::Opus, &from_bob, &mut out)
        .is_ok());
    // The relay labels Carol's frames as Bob's line: refused before any key is tried, counted.
    assert!(matches!(
        alice.decrypt(bobs_line, Codec::Opus, &from_carol, &mut out),
        Err(Dropped::NotTheLinesSender)
    ));
    let kid = frame_kid(Codec::Opus, &from_carol).unwrap();
    assert!(matches!(
        alice.decryptor_from(bobs_line, kid),
        Err(Dropped::NotTheLinesSender)
    ));
    assert_eq!(alice.stats(bobs_line).unannounced, 2);
    assert_eq!(alice.stats(bobs_line).decrypted, 1);
    // A line nobody said whose it is opens nothing.
    assert!(matches!(
        alice.decrypt(unbound, Codec::Opus, &from_carol, &mut out),
        Err(Dropped::NotTheLinesSender)
    ));
    // Carol's own line opens her frames.
    assert!(alice
        .decrypt(carols_line, Codec::Opus, &from_carol, &mut out)
        .is_ok());
    assert_eq!(&out[1..], &b"carol speaking"[1..]);
}
