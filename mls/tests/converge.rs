//! 25 members: every join and every leave converges on one epoch, one roster and one code.

mod common;

use common::{psk, Meeting};

#[test]
fn twenty_five_members_converge_through_joins_and_leaves() {
    let mut meeting = Meeting::new(psk("big", 3));
    for i in 0..24 {
        // Commits come from different members, not only the creator.
        meeting.join(i % meeting.members.len());
    }
    meeting.assert_converged();
    assert_eq!(meeting.members.len(), 25);
    assert_eq!(meeting.members[0].epoch(), 24);
    // Three leave (one of them the creator), two more join into the freed leaves.
    meeting.remove(3, 0);
    meeting.remove(0, 10);
    meeting.remove(5, 20);
    meeting.join(7);
    meeting.join(8);
    meeting.assert_converged();
    assert_eq!(meeting.members.len(), 24);
    assert_eq!(meeting.members[0].epoch(), 29);
    let keys: Vec<_> = meeting
        .members
        .iter()
        .map(|m| m.epoch_keys().unwrap())
        .collect();
    for k in &keys {
        assert_eq!(k.base_key().as_bytes(), keys[0].base_key().as_bytes());
    }
}
