//! A participant who left, keeping everything it held, derives none of the new epoch's keys and
//! opens none of its frames.

mod common;

use common::{frame, opens_by_key, psk, Meeting};
use veilig_mls::Processed;

#[test]
fn a_member_who_left_cannot_derive_the_new_epochs_keys() {
    let mut meeting = Meeting::new(psk("weekly", 1));
    meeting.join(0);
    meeting.join(0);
    meeting.join(1);
    let leaver_index = 2;
    let leaf = meeting.members[leaver_index].leaf();
    let out = meeting.members[0].commit_remove(&[leaf]).unwrap();
    meeting.members[0].apply_own().unwrap();
    let mut left = meeting.members.remove(leaver_index);
    for member in &mut meeting.members[1..] {
        member.process(&out.commit).unwrap();
    }
    meeting.assert_converged();
    // Even processing its own removal gives the leaver nothing of the new epoch.
    assert_eq!(left.process(&out.commit).unwrap(), Processed::Removed);
    let kept = left.epoch_keys();
    let mut now = meeting.members[1].epoch_keys().unwrap();
    let wire = frame(&mut now, 0, b"after the leave");
    if let Ok(kept) = &kept {
        assert_ne!(kept.base_key().as_bytes(), now.base_key().as_bytes());
        assert!(!opens_by_key(kept, &wire));
    }
    // Nor of any epoch after it.
    meeting.join(0);
    let other = meeting.members[1].leaf();
    let next = meeting.members[0].commit_remove(&[other]).unwrap();
    assert!(left.process(&next.commit).is_err());
    meeting.members[0].discard_own();
    // The members still open each other's frames.
    let member_keys = meeting.members[0].epoch_keys().unwrap();
    let mut newest = meeting.members[2].epoch_keys().unwrap();
    let wire = frame(&mut newest, 0, b"later");
    assert!(common::opens(&member_keys, &wire));
    if let Ok(kept) = &left.epoch_keys() {
        assert!(!opens_by_key(kept, &wire));
    }
}
