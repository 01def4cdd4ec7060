//! The committer rules of docs/mls.md, driven as the app drives them: each participant a
//! [`Driver`], and between them a relay that does exactly what the real one does with
//! handshake messages (key packages to everyone else, commits to everyone in one order), with
//! a switch to lose or withhold messages. Time is simulated.

mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use common::psk;
use veilig_e2ee::MlsPsk;
use veilig_mls::driver::{Action, Driver, Rejoin, TAKEOVER_MS, WELCOME_WAIT_MS};
use veilig_mls::keyring::EpochRing;

type Id = String;

enum Message {
    KeyPackage {
        from: Id,
        data: Vec<u8>,
    },
    Commit {
        commit: Vec<u8>,
        welcome: Option<(Vec<u8>, Vec<u8>)>,
    },
    Left(Id),
}

struct Room {
    psk: MlsPsk,
    now: u64,
    drivers: BTreeMap<Id, Driver>,
    rings: BTreeMap<Id, EpochRing>,
    queue: VecDeque<(Option<Id>, Message)>,
    /// Who gets no commits (the relay withholds them).
    withheld: BTreeSet<Id>,
    /// Who gets no Welcome (lost on the way), once.
    lose_welcome_to: Option<Id>,
    /// Who is silent: receives but never sends (a committer that hung).
    silent: BTreeSet<Id>,
    rejoins: Vec<(Id, Rejoin)>,
    commits: usize,
}

impl Room {
    fn new(secret: u8) -> Self {
        Room {
            psk: psk("driven", secret),
            now: 1_000,
            drivers: BTreeMap::new(),
            rings: BTreeMap::new(),
            queue: VecDeque::new(),
            withheld: BTreeSet::new(),
            lose_welcome_to: None,
            silent: BTreeSet::new(),
            rejoins: Vec::new(),
            commits: 0,
        }
    }

    fn arrive(&mut self, id: &str) {
        let alone = self.drivers.is_empty();
        let (driver, actions) = Driver::start(&self.psk, id, alone, self.now).unwrap();
        self.drivers.insert(id.into(), driver);
        self.rings.insert(id.into(), EpochRing::new(1_500));
        self.act(id, actions);
        self.settle();
    }

    fn leave(&mut self, id: &str) {
        self.drivers.remove(id);
        self.rings.remove(id);
        self.queue.push_back((None, Message::Left(id.into())));
        self.settle();
    }

    fn act(&mut self, id: &str, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendKeyPackage(data) => self.queue.push_back((
                    Some(id.into()),
                    Message::KeyPackage {
                        from: id.into(),
                        data,
                    },
                )),
                Action::SendCommit { commit, welcome } => {
                    if !self.silent.contains(id) {
                        self.queue
                            .push_back((Some(id.into()), Message::Commit { commit, welcome }));
                    }
                }
                Action::Epoch(keys) => self.rings.get_mut(id).unwrap().install(keys, self.now),
                Action::Rejoin(why) => {
                    self.rings.get_mut(id).unwrap().clear();
                    self.rejoins.push((id.into(), why));
                }
            }
        }
    }

    /// Delivers everything queued, and what that causes, in order.
    fn settle(&mut self) {
        while let Some((from, message)) = self.queue.pop_front() {
            let ids: Vec<Id> = self.drivers.keys().cloned().collect();
            if let Message::Commit { .. } = message {
                self.commits += 1;
            }
            for id in ids {
                let now = self.now;
                let driver = self.drivers.get_mut(&id).unwrap();
                let actions = match &message {
                    Message::KeyPackage { from: f, data } if *f != id => {
                        driver.key_package(f, data.clone(), now)
                    }
                    Message::KeyPackage { .. } => continue,
                    Message::Left(who) => driver.left(who, now),
                    Message::Commit { commit, welcome } => {
                        if self.withheld.contains(&id) {
                            continue;
                        }
                        let mut welcome =
                            welcome.as_ref().map(|(w, t)| (w.as_slice(), t.as_slice()));
                        if self.lose_welcome_to.as_deref() == Some(id.as_str()) && welcome.is_some()
                        {
                            self.lose_welcome_to = None;
                            welcome = None;
                        }
                        driver.commit(commit, welcome, now)
                    }
                };
                self.act(&id, actions);
            }
            let _ = from;
        }
    }

    /// Moves the clock on in steps, ticking everyone.
    fn wait(&mut self, ms: u64) {
        let end = self.now + ms;
        while self.now < end {
            self.now += 250;
            let ids: Vec<Id> = self.drivers.keys().cloned().collect();
            for id in ids {
                let now = self.now;
                let actions = self.drivers.get_mut(&id).unwrap().tick(now);
                self.act(&id, actions);
            }
            self.settle();
        }
    }

    /// Everyone is a member, at one epoch, with one safety code, and the group has exactly
    /// the participants in the room.
    fn assert_converged(&self) -> u64 {
        let states: Vec<_> = self
            .drivers
            .iter()
            .map(|(id, d)| {
                (
                    id,
                    d.participant()
                        .unwrap_or_else(|| panic!("{id} is no member")),
                )
            })
            .collect();
        let (_, first) = states[0];
        for (id, p) in &states {
            assert_eq!(p.epoch(), first.epoch(), "{id}'s epoch");
            assert_eq!(
                p.safety_code().unwrap(),
                first.safety_code().unwrap(),
                "{id}'s code"
            );
            assert_eq!(p.members().len(), self.drivers.len(), "{id}'s roster");
            assert_eq!(
                self.rings[*id].current_epoch(),
                Some(p.epoch()),
                "{id}'s keyring"
            );
        }
        first.epoch()
    }
}

#[test]
fn joins_and_leaves_converge_with_one_commit_each() {
    let mut room = Room::new(1);
    for id in ["a", "b", "c", "d"] {
        room.arrive(id);
    }
    assert_eq!(room.assert_converged(), 3);
    assert_eq!(room.commits, 3, "one commit per join");
    room.leave("c");
    assert_eq!(room.assert_converged(), 4);
    // The committer leaves: the next lowest leaf removes it, at once (the relay said so).
    room.leave("a");
    assert_eq!(room.assert_converged(), 5);
    room.arrive("e");
    assert_eq!(room.assert_converged(), 6);
    assert_eq!(room.commits, 6);
    assert!(room.rejoins.is_empty());
}

#[test]
fn a_silent_committer_is_taken_over() {
    let mut room = Room::new(2);
    room.arrive("a");
    room.arrive("b");
    room.arrive("c");
    room.silent.insert("a".into());
    room.arrive("d");
    assert!(
        room.drivers["d"].participant().is_none(),
        "nobody committed yet"
    );
    room.wait(TAKEOVER_MS + 250);
    room.assert_converged();
    assert!(room.rejoins.is_empty());
}

#[test]
fn a_lost_welcome_is_asked_for_again_and_the_unused_leaf_replaced() {
    let mut room = Room::new(3);
    room.arrive("a");
    room.arrive("b");
    room.lose_welcome_to = Some("c".into());
    room.arrive("c");
    assert!(room.drivers["c"].participant().is_none());
    // The others added c's first leaf; c never got in.
    assert_eq!(room.drivers["a"].participant().unwrap().members().len(), 3);
    room.wait(WELCOME_WAIT_MS + 250);
    room.assert_converged();
}

#[test]
fn a_member_missing_a_commit_rejoins_on_the_next() {
    let mut room = Room::new(4);
    room.arrive("a");
    room.arrive("b");
    room.arrive("c");
    room.withheld.insert("c".into());
    room.arrive("d");
    room.withheld.clear();
    assert_ne!(
        room.drivers["c"].epoch(),
        room.drivers["a"].epoch(),
        "c is behind"
    );
    room.arrive("e");
    assert_eq!(room.rejoins, [("c".to_owned(), Rejoin::MissedCommit)]);
    room.assert_converged();
}

#[test]
fn a_removed_member_comes_back() {
    let mut room = Room::new(5);
    room.arrive("a");
    room.arrive("b");
    room.arrive("c");
    // The relay lies that b left: b is removed, sees it, and rejoins.
    room.queue.push_back((None, Message::Left("b".into())));
    room.settle();
    assert!(room.rejoins.contains(&("b".to_owned(), Rejoin::Removed)));
    room.assert_converged();
}
