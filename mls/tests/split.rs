//! A relay that splits a meeting into two groups makes the safety codes differ, and each half
//! refuses the other's commits.

mod common;

use common::{psk, Meeting};
use veilig_mls::Newcomer;

#[test]
fn two_groups_on_one_link_have_different_safety_codes() {
    // The relay tells each half that it is first: two groups on the same link.
    let mut left = Meeting::new(psk("weekly", 1));
    let mut right = Meeting::new(psk("weekly", 1));
    left.join(0);
    right.join(0);
    left.assert_converged();
    right.assert_converged();
    assert_eq!(left.members[0].epoch(), right.members[0].epoch());
    assert_ne!(
        left.members[0].safety_code().unwrap(),
        right.members[0].safety_code().unwrap()
    );
    // A commit of one half means nothing to the other.
    let (_n, key_package) = Newcomer::new(&psk("weekly", 1)).unwrap();
    let out = left.members[0].commit_add(&[&key_package]).unwrap();
    assert!(right.members[1].process(&out.commit).is_err());
}

#[test]
fn a_group_forked_by_withheld_commits_shows_different_codes() {
    // Two members commit in the same epoch; the relay gives each half a different winner.
    let mut meeting = Meeting::new(psk("weekly", 1));
    meeting.join(0);
    meeting.join(0);
    meeting.join(0);
    let (_a, kp_a) = Newcomer::new(&psk("weekly", 1)).unwrap();
    let (_b, kp_b) = Newcomer::new(&psk("weekly", 1)).unwrap();
    let first = meeting.members[0].commit_add(&[&kp_a]).unwrap();
    let second = meeting.members[1].commit_add(&[&kp_b]).unwrap();
    meeting.members[0].apply_own().unwrap();
    meeting.members[1].apply_own().unwrap();
    meeting.members[2].process(&first.commit).unwrap();
    meeting.members[3].process(&second.commit).unwrap();
    let codes: Vec<_> = meeting
        .members
        .iter()
        .map(|m| (m.epoch(), m.safety_code().unwrap()))
        .collect();
    assert_eq!(codes[0], codes[2]);
    assert_eq!(codes[1], codes[3]);
    assert_eq!(codes[0].0, codes[1].0);
    assert_ne!(codes[0].1, codes[1].1);
    // And a member of one half cannot process the other half's commit afterwards.
    assert!(meeting.members[2].process(&second.commit).is_err());
}
