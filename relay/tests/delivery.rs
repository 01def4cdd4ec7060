//! The relay as the MLS delivery service: key packages reach everyone else, commits reach
//! everyone (their sender too) numbered in one order per room, a room's numbering ends with the
//! room, and a malformed handshake message closes only its own connection. The bytes are
//! opaque to the relay: these tests send arbitrary base64, not MLS.

mod common;

use std::time::Duration;

use common::{Participant, Seen};
use veilig_protocol::{ClientMessage, ErrorCode, ParticipantId, ServerMessage};

/// The commits `participant` has seen, in order: (seq, from, commit).
fn commits(participant: &Participant) -> Vec<(u64, ParticipantId, String)> {
    participant
        .history
        .iter()
        .filter_map(|seen| match seen {
            Seen::Signal(ServerMessage::Commit {
                seq, from, commit, ..
            }) => Some((*seq, from.clone(), commit.clone())),
            _ => None,
        })
        .collect()
}

fn commit(text: &str) -> ClientMessage {
    ClientMessage::Commit {
        commit: text.into(),
        welcome: None,
        link_tag: None,
    }
}

/// Waits until `participant` has seen `n` commits.
async fn seen_commits(
    participant: &mut Participant,
    n: usize,
) -> Vec<(u64, ParticipantId, String)> {
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        participant.drain();
        let seen = commits(participant);
        if seen.len() >= n {
            return seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} saw only {seen:?}",
            participant.id
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_packages_go_to_everyone_else_and_commits_to_everyone_in_one_order() {
    let relay = common::relay(|_| {}).await;
    let mut a = Participant::join(&relay, "calm").await;
    let mut b = Participant::join(&relay, "calm").await;
    let mut c = Participant::join(&relay, "calm").await;
    a.wait_for_joined(&c.id).await;
    b.wait_for_joined(&c.id).await;

    c.signal(ClientMessage::KeyPackage {
        data: "a2V5IHBhY2thZ2U=".into(),
    });
    for member in [&mut a, &mut b] {
        let from = c.id.clone();
        member
            .wait_for(|seen| {
                matches!(seen, Seen::Signal(ServerMessage::KeyPackage { from: f, data })
                    if *f == from && data == "a2V5IHBhY2thZ2U=")
            })
            .await;
    }

    // Commits from two members at once, several each: every participant sees all of them, with
    // the same numbers 0.., in the same order.
    for n in 0..5 {
        a.signal(commit(&format!("AAAA{n}")));
        b.signal(commit(&format!("BBBB{n}")));
    }
    c.signal(ClientMessage::Commit {
        commit: "Q0NDQw==".into(),
        welcome: Some("d2VsY29tZQ==".into()),
        link_tag: Some("dGFn".into()),
    });
    let order = seen_commits(&mut a, 11).await;
    assert_eq!(
        order.iter().map(|(seq, ..)| *seq).collect::<Vec<_>>(),
        (0..11).collect::<Vec<_>>()
    );
    for (member, name) in [(&mut b, "b"), (&mut c, "c")] {
        assert_eq!(
            seen_commits(member, 11).await,
            order,
            "{name} sees another order"
        );
    }
    // Each sender's own commits keep their order within the room's.
    let mine = |who: &ParticipantId| -> Vec<String> {
        order
            .iter()
            .filter(|(_, from, _)| from == who)
            .map(|(.., commit)| commit.clone())
            .collect()
    };
    assert_eq!(
        mine(&a.id),
        (0..5).map(|n| format!("AAAA{n}")).collect::<Vec<_>>()
    );
    // The Welcome and its link tag arrive as sent, to everyone (the newcomer tells its own).
    a.wait_for(|seen| {
        matches!(seen, Seen::Signal(ServerMessage::Commit { welcome: Some(w), link_tag: Some(t), .. })
            if w == "d2VsY29tZQ==" && t == "dGFn")
    })
    .await;
    // The key package did not come back to its sender.
    c.drain();
    assert!(!c
        .history
        .iter()
        .any(|seen| matches!(seen, Seen::Signal(ServerMessage::KeyPackage { .. }))));
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_numbering_ends_with_the_room() {
    let relay = common::relay(|_| {}).await;
    let mut a = Participant::join(&relay, "calm").await;
    a.signal(commit("AAAA"));
    a.signal(commit("BBBB"));
    assert_eq!(seen_commits(&mut a, 2).await[1].0, 1);
    a.close();
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    while relay.rooms.count() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the room stays open"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut again = Participant::join(&relay, "calm").await;
    again.signal(commit("Q0ND"));
    assert_eq!(
        seen_commits(&mut again, 1).await,
        [(0, again.id.clone(), "Q0ND".to_owned())],
        "a new room on the same link starts its numbering again: nothing was kept"
    );
    relay.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_handshake_message_closes_only_its_connection() {
    let relay = common::relay(|config| config.message_burst = 30).await;
    let big = "A".repeat(veilig_protocol::MAX_HANDSHAKE_BYTES + 4);
    let cases = [
        (
            r#"{"type":"key_package","data":"not base64!"}"#.to_owned(),
            ErrorCode::BadMessage,
        ),
        (
            r#"{"type":"key_package","data":""}"#.to_owned(),
            ErrorCode::BadMessage,
        ),
        (
            format!(r#"{{"type":"key_package","data":"{big}"}}"#),
            ErrorCode::TooLarge,
        ),
        (
            r#"{"type":"commit","commit":"AA","welcome":"BB"}"#.to_owned(),
            ErrorCode::BadMessage,
        ),
        (
            r#"{"type":"commit","commit":"AA","link_tag":"BB"}"#.to_owned(),
            ErrorCode::BadMessage,
        ),
        (r#"{"type":"commit"}"#.to_owned(), ErrorCode::BadMessage),
    ];
    let mut member = Participant::join(&relay, "calm").await;
    for (text, expected) in cases {
        let mut breaker = Participant::join(&relay, "calm").await;
        member.wait_for_joined(&breaker.id).await;
        breaker.signal_raw(text.clone());
        breaker
            .wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Error { code, .. }) if *code == expected))
            .await;
        // The member is still in, and its commits are still numbered and delivered.
        member.signal(commit("AAAA"));
        member
            .wait_for(|seen| matches!(seen, Seen::Signal(ServerMessage::Left { participant }) if *participant == breaker.id))
            .await;
        assert!(
            !member
                .history
                .iter()
                .any(|seen| matches!(seen, Seen::Closed(_))),
            "{text}: the member was disconnected"
        );
    }
    let delivered = seen_commits(&mut member, 6).await;
    assert_eq!(
        delivered.iter().map(|(seq, ..)| *seq).collect::<Vec<_>>(),
        (0..6).collect::<Vec<_>>(),
        "a refused message takes no number"
    );
    relay.shut_down().await;
}
