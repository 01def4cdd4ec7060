//! The directory of rooms: room id → the channel of the task that owns it, and the access value
//! its first joiner registered.
//!
//! A room's task is created by its first join and ends when its last participant has left. The
//! only shared state is this map of channels, behind a lock held for a few instructions: a join
//! sends into the room's channel while holding it, and a room only closes while holding it and
//! finding its channel empty, so a join can never be lost to a closing room.
//!
//! Access: a room id is not secret, so the directory also keeps, for the room's life and in
//! memory only, the access value its first joiner presented ([`RoomAccess`]). A later join is
//! compared with it in constant time and, if it differs, refused with
//! [`ErrorCode::AccessDenied`] here, before it reaches the room: a stranger learns nothing of
//! the room (not its participants, not even that it exists) and cannot fill its input queue.
//!
//! A room whose task ended without closing itself (a panic: a bug) is removed: by a watcher when
//! the task ends, and by the next join that finds its channel closed, so the room id works
//! again at once instead of answering "full".
//!
//! Room ids never appear in logs: [`RoomTag`] stands in for them. The map itself is
//! [`crate::directory`]'s.

use subtle::ConstantTimeEq;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use veilig_protocol::{ErrorCode, ParticipantId, RoomAccess, RoomId, ServerMessage};

use crate::directory::{Directory, Entry};
use crate::input::RoomInput;
use crate::room::{Room, RoomContext};
use crate::tag::RoomTag;

/// Queue length of a room's input: datagrams beyond it are dropped, like a full network queue.
const ROOM_QUEUE: usize = 4096;

/// The rooms of this relay. Cheap to clone.
#[derive(Clone)]
pub struct Rooms {
    directory: Directory,
    ctx: RoomContext,
    max_rooms: usize,
}

/// Whether `presented` is the room's value; the time taken does not depend on where they differ.
fn access_matches(registered: &RoomAccess, presented: &RoomAccess) -> bool {
    // Both are exactly ACCESS_LEN bytes (the protocol checks), so lengths leak nothing.
    bool::from(
        registered
            .as_str()
            .as_bytes()
            .ct_eq(presented.as_str().as_bytes()),
    )
}

impl Rooms {
    /// An empty directory; rooms will share `ctx`.
    pub fn new(ctx: RoomContext, max_rooms: usize) -> Self {
        Rooms {
            directory: Directory::default(),
            ctx,
            max_rooms,
        }
    }

    /// Joins `room` (creating it, and registering `access` as its value, if needed); the room
    /// will send this participant's messages to `signal`. Returns the participant's id and the
    /// room's channel. A room that exists with another access value refuses with
    /// [`ErrorCode::AccessDenied`], and nothing is sent to `signal`.
    pub async fn join(
        &self,
        room: &RoomId,
        access: &RoomAccess,
        signal: mpsc::Sender<ServerMessage>,
    ) -> Result<(ParticipantId, mpsc::Sender<RoomInput>), ErrorCode> {
        let (reply, answer) = oneshot::channel();
        let inbox = {
            let mut directory = self.directory.lock();
            if directory.shutting_down {
                return Err(ErrorCode::ShuttingDown);
            }
            if directory
                .rooms
                .get(room)
                .is_some_and(|entry| entry.inbox.is_closed())
            {
                tracing::warn!(room = %RoomTag::of(room), "removed a room whose task had ended");
                directory.rooms.remove(room);
            }
            let inbox = match directory.rooms.get(room) {
                Some(entry) => {
                    if !access_matches(&entry.access, access) {
                        return Err(ErrorCode::AccessDenied);
                    }
                    entry.inbox.clone()
                }
                None => {
                    if directory.rooms.len() >= self.max_rooms {
                        return Err(ErrorCode::ServerFull);
                    }
                    let inbox = self.open(room);
                    directory.rooms.insert(
                        room.clone(),
                        Entry {
                            inbox: inbox.clone(),
                            access: access.clone(),
                        },
                    );
                    inbox
                }
            };
            inbox
                .try_send(RoomInput::Join { signal, reply })
                .map_err(|error| match error {
                    TrySendError::Full(_) => ErrorCode::ServerFull,
                    TrySendError::Closed(_) => ErrorCode::Internal,
                })?;
            inbox
        };
        let id = answer.await.map_err(|_| ErrorCode::Internal)??;
        Ok((id, inbox))
    }

    /// Starts a room's task, and a watcher that removes the room if the task ends by a panic.
    fn open(&self, room: &RoomId) -> mpsc::Sender<RoomInput> {
        let (inbox, inputs) = mpsc::channel(ROOM_QUEUE);
        let task = Room::new(
            room.clone(),
            self.ctx.clone(),
            self.directory.clone(),
            inbox.clone(),
        );
        let running = tokio::spawn(task.run(inputs));
        let (rooms, id) = (self.clone(), room.clone());
        // A weak sender: the watcher must not keep the room's channel open.
        let watched = inbox.downgrade();
        tokio::spawn(async move {
            if let Err(error) = running.await {
                if error.is_panic() {
                    tracing::error!(room = %RoomTag::of(&id), "a room's task panicked; removed");
                    rooms.directory.remove_ended(&id, &watched);
                }
            }
        });
        inbox
    }

    /// Test-only: has `room` tell `attack`'s lie (see [`crate::hostile`]). Returns how many
    /// participants were lied to.
    #[cfg(feature = "hostile")]
    pub async fn attack(
        &self,
        room: &RoomId,
        attack: crate::hostile::Attack,
    ) -> Result<usize, crate::hostile::NotNow> {
        use crate::hostile::NotNow;
        let (reply, answer) = oneshot::channel();
        let inbox = self
            .directory
            .lock()
            .rooms
            .get(room)
            .map(|entry| entry.inbox.clone())
            .ok_or(NotNow::NoRoom)?;
        inbox
            .send(RoomInput::Attack { attack, reply })
            .await
            .map_err(|_| NotNow::NoRoom)?;
        answer.await.map_err(|_| NotNow::NoRoom)?
    }

    /// Whether `room` is open here.
    pub fn has(&self, room: &RoomId) -> bool {
        self.directory.lock().rooms.contains_key(room)
    }

    /// The rooms open here.
    pub fn ids(&self) -> Vec<RoomId> {
        self.directory.lock().rooms.keys().cloned().collect()
    }

    /// From now on, the id of every room that closes (for one listener: a later call replaces
    /// the earlier).
    pub fn closed_rooms(&self) -> mpsc::UnboundedReceiver<RoomId> {
        let (closed, receiver) = mpsc::unbounded_channel();
        self.directory.lock().closed = Some(closed);
        receiver
    }

    /// Rooms open now.
    pub fn count(&self) -> usize {
        self.directory.lock().rooms.len()
    }

    /// Refuses new joins and tells every room to close its connections.
    pub fn shut_down(&self) {
        let mut directory = self.directory.lock();
        directory.shutting_down = true;
        for entry in directory.rooms.values() {
            let _ = entry.inbox.try_send(RoomInput::Shutdown);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counters::Counters;
    use crate::input::RouteRequest;
    use std::sync::Arc;
    use tokio::net::UdpSocket;

    fn access(digit: char) -> RoomAccess {
        RoomAccess::new(&digit.to_string().repeat(64)).unwrap()
    }

    async fn rooms() -> (Rooms, mpsc::Receiver<RouteRequest>) {
        let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let candidate = socket.local_addr().unwrap();
        let (routes, requests) = mpsc::channel(64);
        let ctx = RoomContext {
            socket,
            routes,
            candidate,
            tcp_candidate: None,
            turn: None,
            max_participants: 25,
            tap: None,
            counters: Arc::new(Counters::default()),
        };
        (Rooms::new(ctx, 1), requests)
    }

    #[test]
    fn access_values_compare_by_every_byte() {
        assert!(access_matches(&access('a'), &access('a')));
        let mut last = "a".repeat(63);
        last.push('b');
        assert!(!access_matches(
            &access('a'),
            &RoomAccess::new(&last).unwrap()
        ));
        assert!(!access_matches(&access('a'), &access('b')));
    }

    #[tokio::test]
    async fn a_room_whose_task_ended_is_replaced_not_full() {
        let (rooms, _requests) = rooms().await;
        let room = RoomId::new("crashed").unwrap();
        // A room whose task is gone, as after a panic, registered with another value; the
        // directory holds its only room (max_rooms = 1).
        let (dead, inputs) = mpsc::channel(1);
        drop(inputs);
        rooms.directory.lock().rooms.insert(
            room.clone(),
            Entry {
                inbox: dead,
                access: access('0'),
            },
        );
        let (signal, mut messages) = mpsc::channel(16);
        let (id, _inbox) = rooms
            .join(&room, &access('1'), signal)
            .await
            .expect("a fresh room, not ServerFull or AccessDenied");
        assert!(matches!(
            messages.recv().await,
            Some(ServerMessage::Welcome { you, .. }) if you == id
        ));
        assert_eq!(rooms.count(), 1);
    }

    #[tokio::test]
    async fn a_watched_room_that_panics_is_removed() {
        let (rooms, _requests) = rooms().await;
        let room = RoomId::new("panicky").unwrap();
        let (inbox, inputs) = mpsc::channel::<RoomInput>(1);
        rooms.directory.lock().rooms.insert(
            room.clone(),
            Entry {
                inbox: inbox.clone(),
                access: access('0'),
            },
        );
        let watched = inbox.downgrade();
        let running = tokio::spawn(async move {
            let _inputs = inputs;
            panic!("a bug in a room");
        });
        assert!(running.await.unwrap_err().is_panic());
        rooms.directory.remove_ended(&room, &watched);
        assert_eq!(rooms.count(), 0);
    }
}
