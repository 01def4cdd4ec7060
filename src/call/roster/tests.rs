//! Rosters talking through a relay that delivers blobs as addressed (or, in the last test,
//! replays them): greetings, answers, chat, and a reconnect.

use std::collections::BTreeMap;

use super::*;

const NOW: u64 = 1_796_000_000_000;

fn id(s: &str) -> ParticipantId {
    ParticipantId::new(s).unwrap()
}

fn kids(n: u64) -> MediaKids {
    MediaKids {
        microphone: n,
        camera: n + 1,
        screen: n + 2,
    }
}

fn me(name: &str) -> Me {
    Me {
        name: name.into(),
        mic: true,
        camera: true,
        screen: false,
    }
}

/// Browsers by participant id, with what each heard.
#[derive(Default)]
struct Meeting {
    rosters: BTreeMap<String, Roster>,
    heard: Vec<(String, Heard)>,
    /// Every blob the relay carried: (from, to, data).
    carried: Vec<(String, String, String)>,
}

impl Meeting {
    /// `who` connects (anew) and is welcomed.
    fn join(&mut self, who: &str, seed: u64) {
        let others: Vec<ParticipantId> = self.rosters.keys().map(|k| id(k)).collect();
        for (other, roster) in self.rosters.iter_mut() {
            let out = roster.arrived(id(who), NOW);
            assert!(out.is_empty(), "{other} had no chat waiting");
        }
        let mut roster = Roster::default();
        roster.connect(
            "room",
            &BaseKey::new(&[7; 32]),
            seed,
            seed + 100,
            kids(seed * 10),
        );
        let out = roster.welcome(id(who), others, &me(who), NOW);
        self.rosters.insert(who.into(), roster);
        self.send(who, out);
    }

    /// The relay carries `out` from `from`, and everything sent in reply, until quiet.
    fn send(&mut self, from: &str, out: Vec<ClientMessage>) {
        let mut queue: Vec<(String, ClientMessage)> =
            out.into_iter().map(|m| (from.to_owned(), m)).collect();
        while let Some((from, message)) = (!queue.is_empty()).then(|| queue.remove(0)) {
            let ClientMessage::Blob { to, data } = message else {
                panic!("only blobs: {message:?}");
            };
            let to: Vec<String> = match to {
                Some(to) => vec![to.as_str().to_owned()],
                None => self
                    .rosters
                    .keys()
                    .filter(|k| **k != from)
                    .cloned()
                    .collect(),
            };
            for to in to {
                self.carried.push((from.clone(), to.clone(), data.clone()));
                let roster = self.rosters.get_mut(&to).unwrap();
                let (heard, replies) = roster.blob(&id(&from), &data, &me(&to), NOW);
                self.heard.push((to.clone(), heard));
                queue.extend(replies.into_iter().map(|m| (to.clone(), m)));
            }
        }
    }

    /// Whom `who` believes, by name.
    fn believed_by(&self, who: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .heard
            .iter()
            .filter_map(|(to, heard)| match heard {
                Heard::Presence { me, .. } if to == who => Some(me.name.clone()),
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

#[test]
fn three_browsers_believe_each_other_after_greeting_and_answers() {
    let mut meeting = Meeting::default();
    meeting.join("anna", 1);
    meeting.join("bram", 2);
    meeting.join("cas", 3);
    assert_eq!(meeting.believed_by("anna"), ["bram", "cas"]);
    assert_eq!(meeting.believed_by("bram"), ["anna", "cas"]);
    assert_eq!(meeting.believed_by("cas"), ["anna", "bram"]);
    // Each pair: one greeting (to everyone there) and one answer each way, no more.
    let between = |a: &str, b: &str| {
        meeting
            .carried
            .iter()
            .filter(|(from, to, _)| from == a && to == b)
            .count()
    };
    assert_eq!(between("cas", "anna"), 2, "greeting and answer");
    assert_eq!(between("anna", "cas"), 1, "one answer");
    // Cas's lines carry what Bram's worker is told: Cas's camera KID.
    let told = meeting
        .rosters
        .get_mut("bram")
        .unwrap()
        .to_tell(&[(7, id("cas"), Source::Camera)]);
    assert_eq!(told, vec![(7, (31, 0))]);
}

#[test]
fn chat_waits_for_somebody_and_survives_a_reconnect() {
    let mut alone = Roster::default();
    let key = BaseKey::new(&[7; 32]);
    alone.connect("room", &key, 1, 2, kids(1));
    assert!(alone.chat("eerst".into(), NOW).is_empty(), "not in yet");
    assert_eq!(
        alone.welcome(id("a"), vec![], &me("a"), NOW).len(),
        1,
        "greeting only"
    );
    alone.connect("room", &key, 3, 4, kids(3));
    let out = alone.welcome(id("a2"), vec![id("b")], &me("a"), NOW);
    assert_eq!(
        out.len(),
        1,
        "the greeting; the chat waits for b's answer: {out:?}"
    );
    assert!(alone.tick(NOW + CHAT_HOLD_MS - 1).is_empty());
    // b never answers: the chat goes anyway, and later chat at once.
    assert_eq!(alone.tick(NOW + CHAT_HOLD_MS).len(), 1);
    assert_eq!(alone.chat("tweede".into(), NOW + CHAT_HOLD_MS).len(), 1);
}

/// Chat typed the moment one joins (or queued over a reconnect) waits for the answers, so
/// everyone believes it.
#[test]
fn chat_sent_on_joining_reaches_everyone() {
    let mut meeting = Meeting::default();
    meeting.join("anna", 1);
    meeting.join("bram", 2);
    let mut cas = Roster::default();
    cas.connect("room", &BaseKey::new(&[7; 32]), 3, 103, kids(30));
    assert!(cas.chat("hallo allemaal".into(), NOW).is_empty());
    for roster in meeting.rosters.values_mut() {
        roster.arrived(id("cas"), NOW);
    }
    let out = cas.welcome(id("cas"), vec![id("anna"), id("bram")], &me("cas"), NOW);
    meeting.rosters.insert("cas".into(), cas);
    meeting.send("cas", out);
    let heard: Vec<&String> = meeting
        .heard
        .iter()
        .filter_map(|(to, heard)| match heard {
            Heard::Chat { text, .. } if text == "hallo allemaal" => Some(to),
            _ => None,
        })
        .collect();
    assert_eq!(heard, ["anna", "bram"], "{:?}", meeting.heard);
}

/// The relay makes Bram reconnect and plays him Anna's blobs of before (her answer to his old
/// session among them): nothing is believed until Anna answers his new session, and her answer
/// then carries her floors of now.
#[test]
fn after_a_reconnect_only_a_fresh_answer_is_believed() {
    let mut meeting = Meeting::default();
    meeting.join("anna", 1);
    meeting.join("bram", 2);
    let recorded: Vec<String> = meeting
        .carried
        .iter()
        .filter(|(from, _, _)| from == "anna")
        .map(|(_, _, data)| data.clone())
        .collect();
    assert!(!recorded.is_empty());
    meeting
        .rosters
        .get_mut("anna")
        .unwrap()
        .sent(Source::Camera, 1000);
    meeting.rosters.get_mut("anna").unwrap().left(&id("bram"));
    meeting.rosters.remove("bram");
    let mut bram = Roster::default();
    bram.connect("room", &BaseKey::new(&[7; 32]), 5, 105, kids(50));
    bram.welcome(id("bram"), vec![id("anna")], &me("bram"), NOW);
    for data in &recorded {
        let (heard, _) = bram.blob(&id("anna"), data, &me("bram"), NOW);
        assert!(
            !matches!(heard, Heard::Presence { .. }),
            "a recording was believed"
        );
    }
    assert!(bram.to_tell(&[(7, id("anna"), Source::Camera)]).is_empty());
    // Bram's greeting reaches the live Anna, whose answer carries her floors of now.
    meeting.rosters.insert("bram".into(), bram);
    let greeting = meeting
        .rosters
        .get_mut("bram")
        .unwrap()
        .presence(&me("bram"), NOW);
    meeting
        .rosters
        .get_mut("anna")
        .unwrap()
        .arrived(id("bram"), NOW);
    meeting.send("bram", greeting.into_iter().collect());
    let told = meeting
        .rosters
        .get_mut("bram")
        .unwrap()
        .to_tell(&[(7, id("anna"), Source::Camera)]);
    assert_eq!(told, vec![(7, (11, 1000 - 64))]);
}
