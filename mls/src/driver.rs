//! Who commits what, and when: the rules of docs/mls.md (*Who commits*) as one sans-IO state
//! machine that the browser's worker and the tests' native participants both drive.
//!
//! ```text
//!  relay: welcome {participants} ─► Driver::start(alone)  ─► create, or send a key package
//!  relay: key_package {from}     ─► Driver::key_package   ─┐
//!  relay: left {participant}     ─► Driver::left          ─┼► the committer commits (Add + PSK,
//!  timer                         ─► Driver::tick          ─┘   Remove) ─► Action::SendCommit
//!  relay: commit {seq, ...}      ─► Driver::commit        ─► Action::Epoch (install its keys)
//! ```
//! - *Committer*: the member with the lowest occupied leaf, not counting leaves the relay said
//!   left. Anyone else takes over once a change has waited [`TAKEOVER_MS`] times its rank
//!   (second-lowest leaf after one period, third after two, ...), so a silent committer delays
//!   a join by seconds, not for ever.
//! - *One pending commit at a time*, applied when the relay hands it back in its order; a commit
//!   of someone else for our epoch that came first wins and ours is dropped (its changes are
//!   committed again in the new epoch). A pending commit the relay never hands back is dropped
//!   after [`TAKEOVER_MS`].
//! - *Newcomers* join only from the Welcome of the commit that won its epoch (the first one the
//!   relay numbered for it), check the link tag, and send a fresh key package after
//!   [`WELCOME_WAIT_MS`] without one. A participant whose key package comes while it still has
//!   a leaf (a lost Welcome, a rejoin) has that leaf removed in the same commit that adds it.
//! - *Stuck or removed*: a commit for a later epoch than ours means we missed one; removal means
//!   we are out. Either way the state is dropped ([`Action::Rejoin`]) and we come back as a
//!   newcomer with a fresh key package.
//!
//! Participants are the relay's ids as text: unauthenticated labels, used only to find a leaf
//! to remove or replace. Each leaf carries its holder's own label
//! ([`crate::participant::LABEL_EXTENSION`]), so every member finds the leaf of someone the
//! relay says left, whenever either of them joined. What the relay can do with lies is in docs/mls.md: remove someone who
//! then rejoins, never add anyone. Time is milliseconds from any origin, given by the caller.

use std::collections::{BTreeMap, BTreeSet};

use veilig_e2ee::MlsPsk;

use crate::participant::{key_package_identity, message_epoch, Newcomer, Participant, Processed};
use crate::{EpochKeys, Error};

/// How long a change may wait for the committer before the next member takes over.
pub const TAKEOVER_MS: u64 = 3_000;
/// How long a newcomer waits for its Welcome before it sends a fresh key package.
pub const WELCOME_WAIT_MS: u64 = 4_000;

/// What the caller must do.
#[derive(Debug)]
pub enum Action {
    /// Send this key package to the relay.
    SendKeyPackage(Vec<u8>),
    /// Send this commit (and Welcome with its link tag) to the relay.
    SendCommit {
        /// The commit.
        commit: Vec<u8>,
        /// The Welcome, with the link tag of the epoch it joins, if the commit adds anyone.
        welcome: Option<(Vec<u8>, Vec<u8>)>,
    },
    /// A new epoch: install its keys (the previous epoch's stay for the overlap).
    Epoch(EpochKeys),
    /// Our group state is gone (removed, or stuck behind a missed commit): erase every key now.
    /// A [`Action::SendKeyPackage`] follows: we come back as a newcomer.
    Rejoin(Rejoin),
}

/// Why we rejoin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejoin {
    /// A commit removed us.
    Removed,
    /// A commit for a later epoch: we missed one (withheld, or lost over a reconnect).
    MissedCommit,
}

/// A key package waiting to be added.
struct Asking {
    key_package: Vec<u8>,
    identity: Vec<u8>,
    since: u64,
}

enum Stage {
    Waiting {
        newcomer: Box<Newcomer>,
        since: u64,
        /// Epochs whose winning commit we have seen: a later Welcome for one lost the race.
        decided: BTreeSet<u64>,
    },
    Member {
        me: Box<Participant>,
        /// Our commit, until the relay hands it back, and when we sent it.
        pending: Option<(Vec<u8>, u64)>,
    },
}

/// One participant's MLS driving state. See the module docs.
pub struct Driver {
    psk: MlsPsk,
    /// What the relay calls us: our leaf carries it (docs of `LABEL_EXTENSION`).
    label: String,
    stage: Stage,
    asking: BTreeMap<String, Asking>,
    /// Leaves to remove, each with the signature key it had (a leaf reused by a newcomer in the
    /// same commit is not removed again) and when we learnt it.
    removing: BTreeMap<u32, (Vec<u8>, u64)>,
    /// When the group last moved (a commit applied): the takeover clock starts no earlier.
    moved: u64,
    /// Commits refused for our epoch (a bad signature, an add without the link's key, ...).
    pub refused: u64,
}

impl core::fmt::Debug for Driver {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Driver")
            .field("epoch", &self.epoch())
            .field("asking", &self.asking.len())
            .finish_non_exhaustive()
    }
}

impl Driver {
    /// Enters the meeting: creates its group if we are `alone` in the room, else asks to be
    /// added with a key package.
    /// `label` is what the relay calls us (our participant id).
    pub fn start(
        psk: &MlsPsk,
        label: &str,
        alone: bool,
        now: u64,
    ) -> Result<(Self, Vec<Action>), Error> {
        let mut actions = Vec::new();
        let stage = if alone {
            let me = Participant::create_labelled(psk, label.as_bytes())?;
            actions.push(Action::Epoch(me.epoch_keys()?));
            Stage::Member {
                me: Box::new(me),
                pending: None,
            }
        } else {
            let (newcomer, key_package) = Newcomer::labelled(psk, label.as_bytes())?;
            actions.push(Action::SendKeyPackage(key_package));
            Stage::Waiting {
                newcomer: Box::new(newcomer),
                since: now,
                decided: BTreeSet::new(),
            }
        };
        let driver = Driver {
            psk: psk.clone(),
            label: label.to_owned(),
            stage,
            asking: BTreeMap::new(),
            removing: BTreeMap::new(),
            moved: now,
            refused: 0,
        };
        Ok((driver, actions))
    }

    /// Our group state, once we are a member.
    pub fn participant(&self) -> Option<&Participant> {
        match &self.stage {
            Stage::Member { me, .. } => Some(me.as_ref()),
            Stage::Waiting { .. } => None,
        }
    }

    /// The current epoch, once we are a member.
    pub fn epoch(&self) -> Option<u64> {
        self.participant().map(Participant::epoch)
    }

    /// The leaves the relay's participant `who` holds (normally one).
    pub fn leaves_of(&self, who: &str) -> Vec<u32> {
        self.participant()
            .map(|me| me.leaves_labelled(who.as_bytes()))
            .unwrap_or_default()
    }

    /// Marks `who`'s leaves for removal (it left, or asks again with a new key package).
    fn remove_leaves_of(&mut self, who: &str, now: u64) {
        let Stage::Member { me, .. } = &self.stage else {
            return;
        };
        if who == self.label {
            return;
        }
        for leaf in me.leaves_labelled(who.as_bytes()) {
            if let Some(identity) = me.identity_at(leaf) {
                self.removing.entry(leaf).or_insert((identity, now));
            }
        }
    }

    /// `from`'s key package arrived.
    pub fn key_package(&mut self, from: &str, key_package: Vec<u8>, now: u64) -> Vec<Action> {
        let Ok(identity) = key_package_identity(&key_package) else {
            return Vec::new();
        };
        self.remove_leaves_of(from, now);
        self.asking.insert(
            from.to_owned(),
            Asking {
                key_package,
                identity,
                since: now,
            },
        );
        self.maybe_commit(now)
    }

    /// The relay says `who` left.
    pub fn left(&mut self, who: &str, now: u64) -> Vec<Action> {
        self.asking.remove(who);
        self.remove_leaves_of(who, now);
        self.maybe_commit(now)
    }

    /// Timers: a lost Welcome, a silent committer, a commit the relay never handed back.
    pub fn tick(&mut self, now: u64) -> Vec<Action> {
        match &mut self.stage {
            Stage::Waiting { since, .. } if now.saturating_sub(*since) >= WELCOME_WAIT_MS => {
                match Newcomer::labelled(&self.psk, self.label.as_bytes()) {
                    Ok((newcomer, key_package)) => {
                        self.stage = Stage::Waiting {
                            newcomer: Box::new(newcomer),
                            since: now,
                            decided: BTreeSet::new(),
                        };
                        vec![Action::SendKeyPackage(key_package)]
                    }
                    Err(_) => Vec::new(),
                }
            }
            Stage::Waiting { .. } => Vec::new(),
            Stage::Member { me, pending } => {
                if matches!(pending, Some((_, at)) if now.saturating_sub(*at) >= TAKEOVER_MS) {
                    me.discard_own();
                    *pending = None;
                }
                self.maybe_commit(now)
            }
        }
    }

    /// A commit in the relay's order, with its Welcome and link tag if it has them.
    pub fn commit(
        &mut self,
        commit: &[u8],
        welcome: Option<(&[u8], &[u8])>,
        now: u64,
    ) -> Vec<Action> {
        let Ok(epoch) = message_epoch(commit) else {
            return Vec::new();
        };
        match &mut self.stage {
            Stage::Waiting {
                newcomer, decided, ..
            } => {
                if !decided.insert(epoch) {
                    // A later commit for an epoch already decided lost the race: its Welcome
                    // would put us in a group nobody else is in.
                    return Vec::new();
                }
                let Some((welcome, tag)) = welcome else {
                    return Vec::new();
                };
                let Ok(me) = newcomer.join(welcome, tag) else {
                    // Not ours (another newcomer's), or not the link's group.
                    return Vec::new();
                };
                self.stage = Stage::Member {
                    me: Box::new(me),
                    pending: None,
                };
                self.moved_on(now)
            }
            Stage::Member { me, pending } => {
                if pending
                    .as_ref()
                    .is_some_and(|(ours, _)| ours.as_slice() == commit)
                {
                    *pending = None;
                    if me.apply_own().is_err() {
                        return self.rejoin(Rejoin::MissedCommit, now);
                    }
                    return self.moved_on(now);
                }
                let ours = me.epoch();
                if epoch < ours {
                    return Vec::new();
                }
                if epoch > ours {
                    return self.rejoin(Rejoin::MissedCommit, now);
                }
                match me.process(commit) {
                    Ok(Processed::NewEpoch(_)) => {
                        if pending.take().is_some() {
                            me.discard_own();
                        }
                        self.moved_on(now)
                    }
                    Ok(Processed::Removed) => self.rejoin(Rejoin::Removed, now),
                    Err(_) => {
                        self.refused += 1;
                        Vec::new()
                    }
                }
            }
        }
    }

    /// After a new epoch: learn who became which leaf, forget removals done, hand out the keys,
    /// and commit what is still waiting if it is our turn.
    fn moved_on(&mut self, now: u64) -> Vec<Action> {
        let Stage::Member { me, .. } = &self.stage else {
            return Vec::new();
        };
        self.moved = now;
        self.asking
            .retain(|_, asking| me.leaf_of(&asking.identity).is_none());
        self.removing
            .retain(|leaf, (identity, _)| me.identity_at(*leaf).as_ref() == Some(identity));
        let mut actions = match me.epoch_keys() {
            Ok(keys) => vec![Action::Epoch(keys)],
            Err(_) => Vec::new(),
        };
        actions.extend(self.maybe_commit(now));
        actions
    }

    fn rejoin(&mut self, why: Rejoin, now: u64) -> Vec<Action> {
        self.asking.clear();
        self.removing.clear();
        let Ok((newcomer, key_package)) = Newcomer::labelled(&self.psk, self.label.as_bytes())
        else {
            return vec![Action::Rejoin(why)];
        };
        self.stage = Stage::Waiting {
            newcomer: Box::new(newcomer),
            since: now,
            decided: BTreeSet::new(),
        };
        vec![Action::Rejoin(why), Action::SendKeyPackage(key_package)]
    }

    /// Commits the waiting changes if it is our turn (see the module docs).
    fn maybe_commit(&mut self, now: u64) -> Vec<Action> {
        let Stage::Member { me, pending } = &mut self.stage else {
            return Vec::new();
        };
        if pending.is_some() || (self.asking.is_empty() && self.removing.is_empty()) {
            return Vec::new();
        }
        let staying: Vec<u32> = me
            .members()
            .into_iter()
            .filter(|leaf| !self.removing.contains_key(leaf))
            .collect();
        let Some(rank) = staying.iter().position(|&leaf| leaf == me.leaf()) else {
            return Vec::new();
        };
        let oldest = self
            .asking
            .values()
            .map(|a| a.since)
            .chain(self.removing.values().map(|(_, since)| *since))
            .min()
            .unwrap_or(now)
            .max(self.moved);
        if now.saturating_sub(oldest) < TAKEOVER_MS * rank as u64 {
            return Vec::new();
        }
        // Key packages mls-rs refuses (malformed, another suite, bad signature) are dropped one
        // by one, so one bad package cannot block everyone else's join.
        loop {
            let key_packages: Vec<&[u8]> = self
                .asking
                .values()
                .map(|a| a.key_package.as_slice())
                .collect();
            let leaves: Vec<u32> = self.removing.keys().copied().collect();
            match me.commit_changes(&key_packages, &leaves) {
                Ok(out) => {
                    let welcome = match (out.welcome, me.pending_link_tag()) {
                        (Some(welcome), Ok(tag)) => Some((welcome, tag.to_vec())),
                        (Some(_), Err(_)) => {
                            me.discard_own();
                            return Vec::new();
                        }
                        (None, _) => None,
                    };
                    *pending = Some((out.commit.clone(), now));
                    return vec![Action::SendCommit {
                        commit: out.commit,
                        welcome,
                    }];
                }
                Err(_) => {
                    let mut bad = Vec::new();
                    for (who, asking) in &self.asking {
                        if me
                            .commit_changes(&[asking.key_package.as_slice()], &[])
                            .is_err()
                        {
                            bad.push(who.clone());
                        }
                        me.discard_own();
                    }
                    if bad.is_empty() {
                        // Not the key packages: a leaf to remove that is gone already.
                        self.removing.clear();
                    }
                    for who in bad {
                        self.asking.remove(&who);
                    }
                }
            }
        }
    }
}
