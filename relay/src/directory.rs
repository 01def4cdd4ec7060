//! The map of this relay's rooms: room id → the channel of the task that owns the room, and the
//! access value its first joiner registered. Shared, behind one lock held for a few
//! instructions, by [`crate::rooms`] (which opens rooms and admits joins) and each room's task
//! (which takes itself out when it is empty).
//!
//! It decides nothing: who may join, and why a join can never be lost to a closing room, is
//! [`crate::rooms`]'s. Kept apart so that a room reaches the map without reaching the code that
//! starts rooms.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::mpsc;
use veilig_protocol::{RoomAccess, RoomId};

use crate::input::RoomInput;

/// One room in the map.
pub struct Entry {
    /// The room task's input.
    pub inbox: mpsc::Sender<RoomInput>,
    /// What its first joiner presented.
    pub access: RoomAccess,
}

/// The map, as seen under the lock.
#[derive(Default)]
pub struct Listing {
    /// Every room open now.
    pub rooms: HashMap<RoomId, Entry>,
    /// Set once, when the relay stops taking joins.
    pub shutting_down: bool,
    /// Told the id of each room that closes, if anyone listens (a cluster node removes the
    /// room's placement).
    pub closed: Option<mpsc::UnboundedSender<RoomId>>,
}

impl Listing {
    fn remove(&mut self, room: &RoomId) {
        self.rooms.remove(room);
        if let Some(closed) = &self.closed {
            let _ = closed.send(room.clone());
        }
    }
}

/// The shared map. Cheap to clone.
#[derive(Clone, Default)]
pub struct Directory {
    inner: Arc<Mutex<Listing>>,
}

impl Directory {
    /// The map, locked. Hold it for a few instructions only.
    pub fn lock(&self) -> MutexGuard<'_, Listing> {
        // A panic while holding this lock would be a bug in a few lines of map code; the map
        // itself stays consistent, so carry on with it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Called by an empty room: removes it unless a join is already queued. Returns whether the
    /// room may end.
    pub fn close_if_idle(&self, room: &RoomId, inputs: &mpsc::Receiver<RoomInput>) -> bool {
        let mut listing = self.lock();
        if !inputs.is_empty() {
            return false;
        }
        listing.remove(room);
        true
    }

    /// Removes `room` if its entry is still the channel `watched` (and not a newer room).
    pub fn remove_ended(&self, room: &RoomId, watched: &mpsc::WeakSender<RoomInput>) {
        let mut listing = self.lock();
        let same = match (listing.rooms.get(room), watched.upgrade()) {
            (Some(entry), Some(watched)) => entry.inbox.same_channel(&watched),
            // Every strong sender is gone: the entry's own is one, so it is not this room's.
            _ => false,
        };
        if same {
            listing.remove(room);
        }
    }
}
