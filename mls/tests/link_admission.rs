//! Admission is bound to the link: a commit that adds someone without the link's PSK is refused
//! by every member and changes nothing, a Welcome cannot be opened without the link, and a
//! group not bound to the link (a relay's own) cannot welcome a newcomer.

mod common;

use common::{psk, Meeting};
use veilig_mls::{Error, Newcomer, Participant, Processed, Refused};

#[test]
fn a_commit_adding_a_member_without_the_link_is_refused() {
    let mut meeting = Meeting::new(psk("weekly", 1));
    meeting.join(0);
    meeting.join(0);
    let before = (
        meeting.members[1].epoch(),
        meeting.members[1].safety_code().unwrap(),
    );
    let (_intruder, key_package) = Newcomer::new(&psk("weekly", 1)).unwrap();
    let bad = meeting.members[0]
        .commit_add_without_link(&[&key_package])
        .unwrap();
    for member in &mut meeting.members[1..] {
        assert!(
            matches!(
                member.process(&bad.commit),
                Err(Error::Refused(Refused::AddWithoutLink))
            ),
            "a member accepted an add without the link's PSK"
        );
    }
    // Nothing changed: the same epoch, and the next honest commit applies.
    assert_eq!(
        (
            meeting.members[1].epoch(),
            meeting.members[1].safety_code().unwrap()
        ),
        before
    );
    meeting.members[0].discard_own();
    meeting.join(0);
    meeting.assert_converged();
}

#[test]
fn a_welcome_is_useless_without_the_link() {
    let mut meeting = Meeting::new(psk("weekly", 1));
    meeting.join(0);
    // A newcomer holding another link (or the right link with a wrong passphrase: another PSK).
    let (outsider, key_package) = Newcomer::new(&psk("weekly", 2)).unwrap();
    let out = meeting.members[0].commit_add(&[&key_package]).unwrap();
    meeting.members[0].apply_own().unwrap();
    let tag = meeting.members[0].link_tag().unwrap();
    let refused = outsider.join(&out.welcome.unwrap(), &tag);
    assert!(refused.is_err(), "joined without the link");
}

#[test]
fn a_group_not_bound_to_the_link_cannot_welcome_a_newcomer() {
    // The relay runs its own group (it does not hold the link) and welcomes a newcomer's key
    // package into it, passing on a genuine member's link tag.
    let mut meeting = Meeting::new(psk("weekly", 1));
    meeting.join(0);
    let genuine_tag = meeting.members[0].link_tag().unwrap();
    let mut relay = Participant::create(&psk("relay", 9)).unwrap();
    let (newcomer, key_package) = Newcomer::new(&psk("weekly", 1)).unwrap();
    let out = relay.commit_add_without_link(&[&key_package]).unwrap();
    relay.apply_own().unwrap();
    let welcome = out.welcome.unwrap();
    for tag in [genuine_tag, relay.link_tag().unwrap(), [0; 32]] {
        let (newcomer, key_package) = Newcomer::new(&psk("weekly", 1)).unwrap();
        let out = relay.commit_add_without_link(&[&key_package]).unwrap();
        relay.discard_own();
        assert!(matches!(
            newcomer.join(&out.welcome.unwrap(), &tag),
            Err(Error::NotTheLinksGroup)
        ));
    }
    assert!(matches!(
        newcomer.join(&welcome, &genuine_tag),
        Err(Error::NotTheLinksGroup)
    ));
}

#[test]
fn the_relay_cannot_commit_into_the_group() {
    // A commit from a group state the relay made itself (another group) is refused.
    let mut meeting = Meeting::new(psk("weekly", 1));
    meeting.join(0);
    let mut relay = Participant::create(&psk("weekly", 1)).unwrap();
    let (_n, key_package) = Newcomer::new(&psk("weekly", 1)).unwrap();
    let forged = relay.commit_add(&[&key_package]).unwrap();
    for member in &mut meeting.members {
        assert!(!matches!(
            member.process(&forged.commit),
            Ok(Processed::NewEpoch(_))
        ));
    }
    meeting.assert_converged();
}
