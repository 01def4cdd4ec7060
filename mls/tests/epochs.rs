//! Every join and every leave starts a new epoch, with new frame keys and a new safety code, and
//! frames flow between the members under RFC 9605 §5.2 keys.

mod common;

use common::{frame, opens, psk, Meeting};
use veilig_e2ee::Header;

#[test]
fn joins_and_leaves_advance_the_epoch_and_change_every_key() {
    let mut meeting = Meeting::new(psk("weekly", 1));
    let mut seen = Vec::new();
    let mut record = |meeting: &Meeting| {
        let keys = meeting.members[0].epoch_keys().unwrap();
        seen.push((
            keys.epoch(),
            keys.base_key().as_bytes().to_vec(),
            keys.safety_code(),
        ));
    };
    record(&meeting);
    meeting.join(0); // epoch 1
    record(&meeting);
    meeting.join(1); // epoch 2, committed by the second member
    record(&meeting);
    meeting.remove(0, 1); // epoch 3: the second member leaves
    record(&meeting);
    meeting.join(1); // epoch 4
    record(&meeting);
    meeting.assert_converged();
    let epochs: Vec<u64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(epochs, [0, 1, 2, 3, 4]);
    for (i, a) in seen.iter().enumerate() {
        for b in &seen[i + 1..] {
            assert_ne!(a.1, b.1, "base keys of epochs {} and {}", a.0, b.0);
            assert_ne!(a.2, b.2, "safety codes of epochs {} and {}", a.0, b.0);
        }
    }
}

#[test]
fn members_open_each_others_frames_and_know_the_sender() {
    let mut meeting = Meeting::new(psk("weekly", 1));
    meeting.join(0);
    meeting.join(0);
    let mut keys: Vec<_> = meeting
        .members
        .iter()
        .map(|m| m.epoch_keys().unwrap())
        .collect();
    let sender_leaf = keys[1].own_leaf();
    let wire = frame(&mut keys[1], 1, b"camera frame");
    let (header, _) = Header::parse(&wire[1..]).unwrap();
    // KID = (context << (S + E)) + (leaf << E) + epoch % 16, S = 2 for leaves 0..=2.
    assert_eq!(
        header.kid.0,
        (1 << (2 + 4)) + (u64::from(sender_leaf) << 4) + 2
    );
    // Opus TOC byte in the clear, a 2-byte header (config byte, 1-byte KID, counter 0 inside
    // the config byte), the rest of the payload, the tag: 8 random KID bytes fewer than before.
    assert_eq!(wire.len(), 1 + 2 + (b"camera frame".len() - 1) + 16);
    for (i, k) in keys.iter().enumerate() {
        if i == 1 {
            // Our own KIDs are not "another member's".
            assert!(k.sender_of(header.kid).is_none());
            continue;
        }
        let sender = k.sender_of(header.kid).unwrap();
        assert_eq!((sender.leaf, sender.context), (sender_leaf, 1));
        assert!(opens(k, &wire), "member {i}");
    }
    // A stream context is handed out once per epoch: its counter never restarts under a key.
    assert!(keys[1].encryptor(1).is_err());
    assert!(keys[1].encryptor(2).is_ok());
}
