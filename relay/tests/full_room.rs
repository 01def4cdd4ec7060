//! A full room: 25 participants, 75 media lines per peer, SDP far larger than a small call's.
//! In a file of its own, so its 25 peers do not starve the other tests of CPU (test files run
//! one after another; tests within a file run in parallel).

mod common;

use common::{settle, Participant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_room_of_twenty_five_negotiates_every_line() {
    // 25 participants means 75 media lines per peer: SDP far larger than a small call's.
    let relay = common::relay(|_| {}).await;
    let mut people = Vec::new();
    for _ in 0..25 {
        people.push(Participant::join(&relay, "full").await);
    }
    settle(&mut people).await;
    for person in &people {
        assert_eq!(person.lines().len(), 75, "{}", person.id);
    }
    relay.shut_down().await;
}
