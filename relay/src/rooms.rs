//! The directory of rooms: room id → the channel of the task that owns it.
//!
//! A room's task is created by its first join and ends when its last participant has left. The
//! only shared state is this map of channels, behind a lock held for a few instructions: a join
//! sends into the room's channel while holding it, and a room only closes while holding it and
//! finding its channel empty, so a join can never be lost to a closing room.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use veilig_protocol::{ErrorCode, ParticipantId, RoomId, ServerMessage};

use crate::room::{Room, RoomContext, RoomInput};

/// Queue length of a room's input: datagrams beyond it are dropped, like a full network queue.
const ROOM_QUEUE: usize = 4096;

/// The rooms of this relay. Cheap to clone.
#[derive(Clone)]
pub struct Rooms {
    inner: Arc<Mutex<Directory>>,
    ctx: RoomContext,
    max_rooms: usize,
}

struct Directory {
    rooms: HashMap<RoomId, mpsc::Sender<RoomInput>>,
    shutting_down: bool,
}

impl Rooms {
    /// An empty directory; rooms will share `ctx`.
    pub fn new(ctx: RoomContext, max_rooms: usize) -> Self {
        Rooms {
            inner: Arc::new(Mutex::new(Directory {
                rooms: HashMap::new(),
                shutting_down: false,
            })),
            ctx,
            max_rooms,
        }
    }

    /// Joins `room` (creating it if needed); the room will send this participant's messages to
    /// `signal`. Returns the participant's id and the room's channel.
    pub async fn join(
        &self,
        room: &RoomId,
        signal: mpsc::Sender<ServerMessage>,
    ) -> Result<(ParticipantId, mpsc::Sender<RoomInput>), ErrorCode> {
        let (reply, answer) = oneshot::channel();
        let inbox = {
            let mut directory = self.lock();
            if directory.shutting_down {
                return Err(ErrorCode::ShuttingDown);
            }
            let inbox = match directory.rooms.get(room) {
                Some(inbox) => inbox.clone(),
                None => {
                    if directory.rooms.len() >= self.max_rooms {
                        return Err(ErrorCode::ServerFull);
                    }
                    let (inbox, inputs) = mpsc::channel(ROOM_QUEUE);
                    let task =
                        Room::new(room.clone(), self.ctx.clone(), self.clone(), inbox.clone());
                    tokio::spawn(task.run(inputs));
                    directory.rooms.insert(room.clone(), inbox.clone());
                    inbox
                }
            };
            inbox
                .try_send(RoomInput::Join { signal, reply })
                .map_err(|_| ErrorCode::ServerFull)?;
            inbox
        };
        let id = answer.await.map_err(|_| ErrorCode::Internal)??;
        Ok((id, inbox))
    }

    /// Called by an empty room: removes it unless a join is already queued. Returns whether the
    /// room may end.
    pub fn close_if_idle(&self, room: &RoomId, inputs: &mpsc::Receiver<RoomInput>) -> bool {
        let mut directory = self.lock();
        if !inputs.is_empty() {
            return false;
        }
        directory.rooms.remove(room);
        true
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
        let inbox = self.lock().rooms.get(room).cloned().ok_or(NotNow::NoRoom)?;
        inbox
            .send(RoomInput::Attack { attack, reply })
            .await
            .map_err(|_| NotNow::NoRoom)?;
        answer.await.map_err(|_| NotNow::NoRoom)?
    }

    /// Rooms open now.
    pub fn count(&self) -> usize {
        self.lock().rooms.len()
    }

    /// Refuses new joins and tells every room to close its connections.
    pub fn shut_down(&self) {
        let mut directory = self.lock();
        directory.shutting_down = true;
        for inbox in directory.rooms.values() {
            let _ = inbox.try_send(RoomInput::Shutdown);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Directory> {
        // A panic while holding this lock would be a bug in a few lines of map code; the map
        // itself stays consistent, so carry on with it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
