//! Which node runs which room, held in a JetStream key-value bucket: placement key (a hash of
//! the room id, [`super::wire::placement_key`]) → node id.
//!
//! Why a bucket rather than asking around: placing a room is a decision several nodes may take
//! at the same moment (two guests of one new meeting arriving on two nodes). The bucket's
//! compare-and-set (`create` only if absent, `update` only from the revision read) makes exactly
//! one of them win without a leader or a lock of our own, and every node watches the bucket, so
//! each knows how many rooms every node holds a few milliseconds after they are placed (the
//! load [`super::nodes`] chooses by). Request/reply to a room's owner would still need an
//! agreed owner to ask. The bucket keeps one revision per key and lives in the NATS server's
//! file store; a node that reconnects writes its rooms back in case the store was lost.
//!
//! Rules:
//! - a join whose room has no placement places it on the least loaded usable node;
//! - a placement whose node is dead or draining is moved, by compare-and-set, to another;
//! - a node takes a session for a room only if the room is open on it or placed on it (it
//!   claims an unplaced room for itself); else it answers "elsewhere" and the entry places again;
//! - an owner removes a placement when its room closes, only if it is still its own.

use std::collections::HashMap;

use async_nats::jetstream::kv::{Entry, Operation};
use veilig_protocol::RoomId;

use super::wire::placement_key;
use super::{lock, Shared};

/// Why no node could be found for a room.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlaceError {
    /// No node is alive, undrained and below its room limit.
    #[error("no node can take the room")]
    NoNode,
    /// The bucket could not be read or written (NATS down).
    #[error("the placement store: {0}")]
    Store(String),
    /// Others kept winning the race to place it.
    #[error("the placement kept changing")]
    Contended,
}

/// Every placement, as the bucket's watch tells it.
#[derive(Debug, Default)]
pub struct Placed {
    by_key: HashMap<String, String>,
}

impl Placed {
    /// Applies one change from the watch.
    pub fn apply(&mut self, entry: &Entry) {
        match entry.operation {
            Operation::Put => {
                let node = String::from_utf8_lossy(&entry.value).into_owned();
                self.by_key.insert(entry.key.clone(), node);
            }
            Operation::Delete | Operation::Purge => {
                self.by_key.remove(&entry.key);
            }
        }
    }

    /// Records a placement this node is about to write (the watch will say it again); returns
    /// what was there.
    pub fn set(&mut self, key: String, node: String) -> Option<String> {
        self.by_key.insert(key, node)
    }

    /// Undoes [`Placed::set`] after a failed write, unless the watch has said otherwise since.
    pub fn restore(&mut self, key: &str, node: &str, before: Option<String>) {
        if self.by_key.get(key).map(String::as_str) == Some(node) {
            match before {
                Some(before) => self.by_key.insert(key.to_owned(), before),
                None => self.by_key.remove(key),
            };
        }
    }

    /// Rooms placed per node.
    pub fn counts(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for node in self.by_key.values() {
            *counts.entry(node.clone()).or_default() += 1;
        }
        counts
    }

    /// Forgets everything (the watch starts again from the bucket's contents).
    pub fn clear(&mut self) {
        self.by_key.clear();
    }
}

/// Tries before giving up on a contended placement.
const TRIES: usize = 8;

impl Shared {
    /// The node that runs `room`, placing it (or moving it off a node that is gone, or off
    /// `avoid`, a node that did not answer) if needed.
    pub async fn place(&self, room: &RoomId, avoid: Option<&str>) -> Result<String, PlaceError> {
        let key = placement_key(room);
        let store = |e: &dyn std::fmt::Display| PlaceError::Store(e.to_string());
        for _ in 0..TRIES {
            let entry = self.kv.entry(&key).await.map_err(|e| store(&e))?;
            let current = entry
                .as_ref()
                .filter(|entry| entry.operation == Operation::Put)
                .map(|entry| String::from_utf8_lossy(&entry.value).into_owned());
            if let Some(owner) = &current {
                let gone =
                    avoid == Some(owner.as_str()) || !self.alive(owner) || self.is_draining(owner);
                if !gone {
                    return Ok(owner.clone());
                }
            }
            let (target, before) = self.choose(&key, avoid).ok_or(PlaceError::NoNode)?;
            let written = match &entry {
                Some(entry) => self
                    .kv
                    .update(&key, target.clone().into_bytes().into(), entry.revision)
                    .await
                    .is_ok(),
                None => self
                    .kv
                    .create(&key, target.clone().into_bytes().into())
                    .await
                    .is_ok(),
            };
            if written {
                tracing::info!(node = %target, moved_from = ?current, "room placed");
                return Ok(target);
            }
            lock(&self.placed).restore(&key, &target, before);
        }
        Err(PlaceError::Contended)
    }

    /// Whether this node should run `room`: it is open here, or placed here (an unplaced room
    /// is claimed). A draining node owns nothing new.
    pub async fn owns(&self, room: &RoomId) -> bool {
        if self.rooms.has(room) {
            return true;
        }
        if *self.draining.borrow() {
            return false;
        }
        let key = placement_key(room);
        match self.kv.entry(&key).await {
            Ok(Some(entry)) if entry.operation == Operation::Put => {
                *entry.value == *self.me.as_bytes()
            }
            Ok(Some(entry)) => self
                .kv
                .update(&key, self.me.clone().into_bytes().into(), entry.revision)
                .await
                .is_ok(),
            Ok(None) => self
                .kv
                .create(&key, self.me.clone().into_bytes().into())
                .await
                .is_ok(),
            Err(_) => false,
        }
    }

    /// Called when `room` closed here: removes its placement if it is still this node's.
    pub async fn release(&self, room: &RoomId) {
        if !self.rooms.has(room) {
            self.give_up(room).await;
        }
    }

    /// Removes `room`'s placement if it names this node (by compare-and-set: a placement
    /// changed meanwhile stays).
    async fn give_up(&self, room: &RoomId) {
        let key = placement_key(room);
        if let Ok(Some(entry)) = self.kv.entry(&key).await {
            if entry.operation == Operation::Put && *entry.value == *self.me.as_bytes() {
                let _ = self
                    .kv
                    .delete_expect_revision(&key, Some(entry.revision))
                    .await;
            }
        }
    }

    /// Writes this node's open rooms back into the bucket (after a reconnect: the store may
    /// have been lost). A room placed elsewhere meanwhile is left there, and logged.
    pub async fn reassert(&self) {
        for room in self.rooms.ids() {
            let key = placement_key(&room);
            match self.kv.entry(&key).await {
                Ok(Some(entry)) if entry.operation == Operation::Put => {
                    if *entry.value != *self.me.as_bytes() {
                        tracing::warn!("a room open here is placed on another node");
                    }
                }
                Ok(_) => {
                    let _ = self.kv.put(&key, self.me.clone().into_bytes().into()).await;
                }
                Err(_) => return,
            }
        }
    }

    /// Takes every placement of this node away (draining): rejoins place the rooms again.
    pub async fn release_all(&self) {
        for room in self.rooms.ids() {
            self.give_up(&room).await;
        }
    }

    /// Chooses a node for `key` and counts the room there at once, before it is written (and
    /// long before the watch brings it back), so that placements made here in the same moment
    /// see each other. Returns the node and what the view held for `key` before.
    fn choose(&self, key: &str, avoid: Option<&str>) -> Option<(String, Option<String>)> {
        let mut placed = lock(&self.placed);
        let mut counts = placed.counts();
        if let Some(avoid) = avoid {
            // Full, as far as the choice is concerned.
            counts.insert(avoid.to_owned(), usize::MAX);
        }
        let target = lock(&self.nodes).choose(key, &counts, std::time::Instant::now())?;
        let before = placed.set(key.to_owned(), target.clone());
        Some((target, before))
    }
}
