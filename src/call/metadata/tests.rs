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

#[test]
fn notes_round_trip_between_two_browsers() {
    let mut alice = browser("room", "alice", 1, 10);
    let mut bob = browser("room", "bob", 2, 20);
    let hello = presence("Alice");
    let blob = alice.seal(&hello, NOW).unwrap();
    assert!(!blob.contains("Alice"));
    assert_eq!(bob.open(&id("alice"), &blob, NOW), Ok(hello));
    assert_eq!(
        bob.open(&id("alice"), &blob, NOW),
        Err(NoteError::Unreadable),
        "a replay is refused"
    );
    let blob = alice.seal(&chat("hallo"), NOW + 5).unwrap();
    assert_eq!(bob.open(&id("alice"), &blob, NOW + 10), Ok(chat("hallo")));
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
    assert_eq!(carol.open(&id("alice"), &blob, NOW), Ok(presence("Alice")));
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
    assert_eq!(bob.open(&id("alice"), &fine, NOW), Ok(presence("Alice")));
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
    let hello = now.seal(&presence("Alice"), NOW).unwrap();
    assert_eq!(bob.open(&id("alice"), &hello, NOW), Ok(presence("Alice")));
    assert!(bob.open(&id("alice"), &recorded, NOW).is_err());
    let recorded_presence = then.seal(&presence("Nep"), NOW).unwrap();
    assert!(bob.open(&id("alice"), &recorded_presence, NOW).is_err());
}

/// After we reconnect, the relay replays what a participant said before their fresh presence.
#[test]
fn notes_sealed_before_the_announcing_presence_are_refused() {
    let mut alice = browser("room", "alice", 1, 10);
    let said_before = alice.seal(&chat("van voor uw komst"), NOW).unwrap();
    let hello = alice.seal(&presence("Alice"), NOW + 1).unwrap();
    let mut bob = browser("room", "bob", 2, 20);
    assert_eq!(
        bob.open(&id("alice"), &hello, NOW + 2),
        Ok(presence("Alice"))
    );
    assert_eq!(
        bob.open(&id("alice"), &said_before, NOW + 3),
        Err(NoteError::Stale)
    );
}

/// Finding 12: a note's size says nothing about a name's length or a mute state.
#[test]
fn sizes_say_nothing() {
    let mut alice = browser("room", "alice", 1, 10);
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
