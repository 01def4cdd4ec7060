//! Notes between honest browsers, and every way a relay could misuse them: another sender's
//! name, replays from another meeting or session, chat before presence, sizes that tell.

use super::*;

fn id(s: &str) -> ParticipantId {
    ParticipantId::new(s).unwrap()
}

const NOW: u64 = 1_796_000_000_000;

fn key() -> BaseKey {
    BaseKey::new(&[7; 32])
}

/// A browser in `room` that the relay calls `you`.
fn browser(room: &str, you: &str, kid: u64, session: u64) -> Notes {
    let mut notes = Notes::new(room, &key(), kid, session);
    notes.set_you(id(you));
    notes
}

fn presence(name: &str) -> Note {
    Note::Presence {
        name: name.into(),
        mic: true,
        camera: false,
        screen: false,
        kids: MediaKids {
            microphone: u64::MAX,
            camera: u64::MAX - 1,
            screen: u64::MAX - 2,
        },
        floors: MediaKids::default(),
    }
}

fn chat(text: &str) -> Note {
    Note::Chat { text: text.into() }
}

/// The greeting and answers of the module docs: `a` greets `b`, `b` answers, `a` believes `b`
/// and answers back, `b` believes `a`. Returns what `b` believed of `a`.
fn meet(a: &mut Notes, a_id: &str, b: &mut Notes, b_id: &str, now: u64) -> Note {
    let a_presence = presence(&a_id.to_uppercase());
    let greeting = a.seal(&a_presence, now).unwrap();
    assert_eq!(
        b.open(&id(a_id), &greeting, now),
        Err(NoteError::Unanswered)
    );
    assert_eq!(b.answers_due(), vec![id(a_id)]);
    let b_presence = presence(&b_id.to_uppercase());
    let answer = b.answer(&id(a_id), &b_presence, now).unwrap();
    assert!(b.answers_due().is_empty());
    assert_eq!(a.open(&id(b_id), &answer, now), Ok(b_presence));
    assert_eq!(a.answers_due(), vec![id(b_id)]);
    let answer = a.answer(&id(b_id), &a_presence, now + 1).unwrap();
    assert!(a.answers_due().is_empty());
    let believed = b.open(&id(a_id), &answer, now + 1).unwrap();
    assert!(b.answers_due().is_empty(), "one answer per session");
    believed
}

#[test]
fn notes_round_trip_between_two_browsers() {
    let mut alice = browser("room", "alice", 1, 10);
    let mut bob = browser("room", "bob", 2, 20);
    let hello = alice.seal(&presence("Alice"), NOW).unwrap();
    assert!(!hello.contains("Alice"));
    assert_eq!(
        meet(&mut alice, "alice", &mut bob, "bob", NOW),
        presence("ALICE")
    );
    let blob = alice.seal(&chat("hallo"), NOW + 5).unwrap();
    assert_eq!(bob.open(&id("alice"), &blob, NOW + 10), Ok(chat("hallo")));
    assert_eq!(
        bob.open(&id("alice"), &blob, NOW + 10),
        Err(NoteError::Unreadable),
        "a replay is refused"
    );
    // A later presence (a mute change, to everyone) needs no answer.
    let blob = alice.seal(&presence("Alice"), NOW + 20).unwrap();
    assert_eq!(
        bob.open(&id("alice"), &blob, NOW + 20),
        Ok(presence("Alice"))
    );
    assert!(bob.answers_due().is_empty());
}

/// Finding 4, after a reconnect: the relay makes Bob reconnect and plays him Alice's notes of
/// before, her answer to his old session among them. None is believed; only Alice's live answer
/// to his new session is, with her floors of now.
#[test]
fn recorded_notes_are_not_believed_after_a_reconnect() {
    let mut alice = browser("room", "alice", 1, 10);
    let mut bob = browser("room", "bob", 2, 20);
    let greeting = alice.seal(&presence("Alice"), NOW).unwrap();
    bob.open(&id("alice"), &greeting, NOW).unwrap_err();
    let bobs = bob.answer(&id("alice"), &presence("Bob"), NOW).unwrap();
    alice.open(&id("bob"), &bobs, NOW).unwrap();
    let old_answer = alice.answer(&id("bob"), &presence("Alice"), NOW).unwrap();
    let old_chat = alice.seal(&chat("van toen"), NOW + 1).unwrap();

    // Bob reconnects: a new session, and the relay gives him his old id again.
    let mut bob = browser("room", "bob", 3, 21);
    for recorded in [&greeting, &old_answer] {
        assert_eq!(
            bob.open(&id("alice"), recorded, NOW + 2),
            Err(NoteError::Unanswered),
            "a recorded presence is believed"
        );
    }
    assert_eq!(
        bob.open(&id("alice"), &old_chat, NOW + 2),
        Err(NoteError::Unannounced)
    );
    // Alice, live, hears Bob's greeting and answers his new session.
    let live = Note::Presence {
        name: "Alice".into(),
        mic: true,
        camera: true,
        screen: false,
        kids: MediaKids::default(),
        floors: MediaKids {
            camera: 900,
            ..MediaKids::default()
        },
    };
    let greeting = bob.seal(&presence("Bob"), NOW + 3).unwrap();
    alice.forget(&id("bob"));
    alice.open(&id("bob"), &greeting, NOW + 3).unwrap_err();
    let answer = alice.answer(&id("bob"), &live, NOW + 3).unwrap();
    assert_eq!(bob.open(&id("alice"), &answer, NOW + 3), Ok(live.clone()));
    // Opened once already (and refused), and sealed before the answer that binds her.
    assert!(matches!(
        bob.open(&id("alice"), &old_chat, NOW + 4),
        Err(NoteError::Unreadable | NoteError::Stale)
    ));
}

/// A participant who left, played back by the relay under their old id: their notes' KID is
/// retired, so not even their answer to our (still current) session opens.
#[test]
fn a_participant_who_left_cannot_be_played_back() {
    let mut alice = browser("room", "alice", 1, 10);
    let mut bob = browser("room", "bob", 2, 20);
    meet(&mut alice, "alice", &mut bob, "bob", NOW);
    let said = alice.seal(&presence("Alice"), NOW + 2).unwrap();
    bob.forget(&id("alice"));
    assert_eq!(
        bob.open(&id("alice"), &said, NOW + 2),
        Err(NoteError::Unreadable)
    );
    assert!(bob.answers_due().is_empty());
}

/// A greeting heard twice (or replayed) is answered once; an answer to someone else's session
/// is only a greeting.
#[test]
fn each_session_is_answered_once() {
    let mut alice = browser("room", "alice", 1, 10);
    let mut bob = browser("room", "bob", 2, 20);
    let mut carol = browser("room", "carol", 3, 30);
    for at in [NOW, NOW + 1] {
        let greeting = alice.seal(&presence("Alice"), at).unwrap();
        assert_eq!(
            bob.open(&id("alice"), &greeting, at),
            Err(NoteError::Unanswered)
        );
    }
    assert_eq!(bob.answers_due(), vec![id("alice")]);
    assert!(bob.answer(&id("alice"), &presence("Bob"), NOW).is_some());
    assert!(bob.answers_due().is_empty());
    assert_eq!(bob.answer(&id("carol"), &presence("Bob"), NOW), None);
    // Carol's answer to Dirk's session, passed to Bob by the relay, believes nothing.
    let greeting = browser("room", "dirk", 4, 40)
        .seal(&presence("Dirk"), NOW)
        .unwrap();
    carol.open(&id("dirk"), &greeting, NOW).unwrap_err();
    let to_dirk = carol.answer(&id("dirk"), &presence("Carol"), NOW).unwrap();
    assert_eq!(
        bob.open(&id("carol"), &to_dirk, NOW),
        Err(NoteError::Unanswered)
    );
}

#[test]
fn nothing_is_sealed_before_we_know_our_id() {
    let mut early = Notes::new("room", &key(), 1, 10);
    assert_eq!(early.seal(&presence("Anna"), NOW), None);
}

#[test]
fn another_key_or_room_cannot_read_notes() {
    let mut alice = browser("room", "a", 1, 10);
    let mut stranger = Notes::new("room", &BaseKey::new(&[8; 32]), 2, 20);
    let mut elsewhere = browser("other", "e", 3, 30);
    let blob = alice.seal(&presence("geheim"), NOW).unwrap();
    assert_eq!(
        stranger.open(&id("a"), &blob, NOW),
        Err(NoteError::Unreadable)
    );
    assert_eq!(
        elsewhere.open(&id("a"), &blob, NOW),
        Err(NoteError::Unreadable)
    );
    assert_eq!(
        stranger.open(&id("a"), "***", NOW),
        Err(NoteError::Encoding)
    );
}

/// Finding 3: the relay passes Alice's note off as Bram's.
#[test]
fn a_note_opens_only_as_from_its_sender() {
    let mut alice = browser("room", "alice", 1, 10);
    let mut carol = browser("room", "carol", 3, 30);
    let blob = alice.seal(&presence("Alice"), NOW).unwrap();
    assert_eq!(
        carol.open(&id("bram"), &blob, NOW),
        Err(NoteError::Unreadable)
    );
    assert_eq!(
        carol.open(&id("alice"), &blob, NOW),
        Err(NoteError::Unanswered)
    );
    assert_eq!(carol.answers_due(), vec![id("alice")]);
}

/// Finding 4: notes recorded in an earlier meeting on the same link, or long ago in this one.
#[test]
fn stale_notes_are_refused() {
    let mut alice = browser("room", "alice", 1, 10);
    let old = alice
        .seal(&presence("Alice"), NOW - MAX_NOTE_AGE_MS - 1)
        .unwrap();
    let ahead = alice
        .seal(&presence("Alice"), NOW + MAX_NOTE_AGE_MS + 1)
        .unwrap();
    let fine = alice
        .seal(&presence("Alice"), NOW - MAX_NOTE_AGE_MS)
        .unwrap();
    let mut bob = browser("room", "bob", 2, 20);
    assert_eq!(bob.open(&id("alice"), &old, NOW), Err(NoteError::Stale));
    assert_eq!(bob.open(&id("alice"), &ahead, NOW), Err(NoteError::Stale));
    assert_eq!(
        bob.open(&id("alice"), &fine, NOW),
        Err(NoteError::Unanswered),
        "within the bound: a greeting"
    );
}

#[test]
fn chat_needs_a_presence_note_first() {
    let mut alice = browser("room", "alice", 1, 10);
    let mut bob = browser("room", "bob", 2, 20);
    let early = alice.seal(&chat("eerst"), NOW).unwrap();
    assert_eq!(
        bob.open(&id("alice"), &early, NOW),
        Err(NoteError::Unannounced)
    );
}

/// The relay gives a new participant an id some earlier participant had, and replays that
/// participant's notes after the real one's presence: another session, refused.
#[test]
fn notes_from_another_session_are_refused() {
    let mut then = browser("room", "alice", 1, 10);
    let recorded = then.seal(&chat("opgenomen"), NOW).unwrap();
    let mut now = browser("room", "alice", 5, 50);
    let mut bob = browser("room", "bob", 2, 20);
    meet(&mut now, "alice", &mut bob, "bob", NOW);
    assert!(bob.open(&id("alice"), &recorded, NOW).is_err());
    let recorded_presence = then.seal(&presence("Nep"), NOW).unwrap();
    assert!(bob.open(&id("alice"), &recorded_presence, NOW).is_err());
}

/// After we reconnect, the relay replays what a participant said before their fresh presence.
#[test]
fn notes_sealed_before_the_announcing_presence_are_refused() {
    let mut alice = browser("room", "alice", 1, 10);
    let said_before = alice.seal(&chat("van voor uw komst"), NOW).unwrap();
    let mut bob = browser("room", "bob", 2, 20);
    meet(&mut alice, "alice", &mut bob, "bob", NOW + 1);
    assert_eq!(
        bob.open(&id("alice"), &said_before, NOW + 3),
        Err(NoteError::Stale)
    );
}

/// Finding 12: a note's size says nothing about a name's length or a mute state.
#[test]
fn sizes_say_nothing() {
    let mut alice = browser("room", "alice", 1, 10);
    // An answer names a session more than a greeting: the same size still.
    let greeting = browser("room", "bob", 2, u64::MAX)
        .seal(&presence("Bob"), NOW)
        .unwrap();
    alice.open(&id("bob"), &greeting, NOW).unwrap_err();
    let answer = alice.answer(&id("bob"), &presence(""), NOW).unwrap().len();
    let sizes: Vec<usize> = [
        presence(""),
        presence(&"ä".repeat(MAX_NAME_CHARS)),
        Note::Presence {
            name: "Bo".into(),
            mic: false,
            camera: true,
            screen: true,
            kids: MediaKids::default(),
            floors: MediaKids {
                microphone: 1 << 40,
                camera: 7,
                screen: 0,
            },
        },
        chat("ja"),
        chat(&"x".repeat(300)),
    ]
    .iter()
    .map(|note| alice.seal(note, NOW).unwrap().len())
    .chain([answer])
    .collect();
    assert!(sizes.iter().all(|s| *s == sizes[0]), "{sizes:?}");
    let long = alice.seal(&chat(&"x".repeat(1000)), NOW).unwrap().len();
    let longer = alice.seal(&chat(&"y".repeat(1900)), NOW).unwrap().len();
    assert_eq!(long, longer);
    assert!(long > sizes[0]);
    // The longest chat there can be still fits the relay's blob limit.
    let most = alice
        .seal(&chat(&"\u{1F600}".repeat(MAX_CHAT_CHARS)), NOW)
        .unwrap();
    assert!(
        most.len() <= veilig_protocol::MAX_BLOB_BYTES,
        "{}",
        most.len()
    );
}
