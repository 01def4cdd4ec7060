//! Many relays, one service: with `--nats URL` a relay is a *node* of a cluster whose only
//! shared engine is NATS. Without it, none of this runs and the relay is the single binary it
//! always was.
//!
//! ```text
//!        browsers (any node, behind DNS round robin or a plain load balancer)
//!            │ WebSocket                         │ media (UDP / ICE-TCP), straight to the room's node
//!   ┌────────▼────────┐   NATS    ┌──────────────▼──┐
//!   │ node A (entry)  │◄────────►│ node B (owner)   │  room tasks, str0m, forwarding
//!   │ session carried │ frames    │ signaling, rooms │
//!   └─────────────────┘           └──────────────────┘
//!   every node: heartbeat (media address, capacity, load) ─► veilig.heartbeat
//!               placements (room key → node)              ─► JetStream KV veilig-rooms
//! ```
//! A room runs on exactly one node, chosen by load when it is first joined ([`nodes`],
//! [`placement`]); its media goes straight to that node, whose ICE candidates name its own
//! public address. A browser's WebSocket may land on any node: its signaling is carried there
//! ([`session`]). Each room's state lives only on its node, as it always did, so NATS going
//! away stops new placements but no meeting in progress.
//!
//! What this module does not do: it never decrypts or reads media (it carries no media at all),
//! and it keeps nothing about people: NATS sees node ids, counts, placement keys (hashes of room
//! ids) and the signaling frames one relay sees anyway, never an address of a browser.

pub mod duplex;
pub mod nodes;
pub mod placement;
pub mod session;
pub mod wire;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, kv};
use axum::extract::ws::Message;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use veilig_protocol::{ClientMessage, ErrorCode, PROTOCOL_VERSION};

use crate::config::Config;
use crate::counters::{Counters, Gauge};
use crate::rooms::Rooms;
use nodes::{NodeTable, HEARTBEAT_EVERY};
use placement::Placed;
use session::CarryError;
use wire::Heartbeat;

/// Why a relay could not join its cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// NATS could not be reached.
    #[error("cannot connect to NATS: {0}")]
    Connect(String),
    /// JetStream (the placement bucket) is not available: start nats-server with `-js`.
    #[error("no JetStream key-value bucket (is nats-server running with -js?): {0}")]
    Bucket(String),
    /// A subscription was refused.
    #[error("NATS refused a subscription: {0}")]
    Subscribe(String),
}

/// What the cluster's tasks share.
pub struct Shared {
    me: String,
    client: async_nats::Client,
    kv: kv::Store,
    nodes: Mutex<NodeTable>,
    placed: Mutex<Placed>,
    draining: watch::Sender<bool>,
    rooms: Rooms,
    config: Arc<Config>,
    counters: Arc<Counters>,
    media: SocketAddr,
}

/// This relay as a node. Cheap to clone.
#[derive(Clone)]
pub struct Cluster {
    shared: Arc<Shared>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain map code runs under these locks; a panic there leaves a whole map.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Whether `node` is heard from (this node always is). While this node's own connection
    /// to NATS is down it hears nobody, so it takes everybody for alive: a NATS restart must
    /// not close sessions to rooms that are running fine.
    pub fn alive(&self, node: &str) -> bool {
        node == self.me
            || self.client.connection_state() != async_nats::connection::State::Connected
            || lock(&self.nodes).alive(node, Instant::now())
    }

    /// Whether `node` says it is draining.
    pub fn is_draining(&self, node: &str) -> bool {
        if node == self.me {
            return *self.draining.borrow();
        }
        lock(&self.nodes).draining(node, Instant::now())
    }

    fn heartbeat(&self) -> Heartbeat {
        Heartbeat {
            node: self.me.clone(),
            media: self.media,
            max_rooms: self.config.max_rooms,
            max_participants: self.config.max_participants,
            rooms: self.rooms.count(),
            participants: self.counters.get(Gauge::Participants),
            draining: *self.draining.borrow(),
        }
    }

    async fn beat(&self) {
        let heartbeat = self.heartbeat();
        lock(&self.nodes).heard(heartbeat.clone(), Instant::now());
        if let Ok(json) = serde_json::to_vec(&heartbeat) {
            let _ = self.client.publish(wire::HEARTBEAT, json.into()).await;
        }
    }
}

impl Cluster {
    /// Connects to NATS at `url` and starts this node's tasks: its heartbeat, the table of
    /// nodes, the watch of placements, sessions opened by other nodes, and the removal of
    /// placements of rooms that closed. `media` is the address in this node's ICE candidates.
    pub async fn join(
        url: &str,
        rooms: Rooms,
        config: Arc<Config>,
        counters: Arc<Counters>,
        media: SocketAddr,
    ) -> Result<Cluster, ClusterError> {
        let me = wire::random_id();
        let (events, mut reconnects) = mpsc::unbounded_channel();
        let client = async_nats::ConnectOptions::new()
            .name(format!("veilig-relay {me}"))
            .retry_on_initial_connect()
            .event_callback(move |event| {
                let events = events.clone();
                async move {
                    if matches!(event, async_nats::Event::Connected) {
                        let _ = events.send(());
                    }
                }
            })
            .connect(url)
            .await
            .map_err(|e| ClusterError::Connect(e.to_string()))?;
        let kv = placement_bucket(&client).await?;
        let shared = Arc::new(Shared {
            me: me.clone(),
            client: client.clone(),
            kv,
            nodes: Mutex::default(),
            placed: Mutex::default(),
            draining: watch::Sender::new(false),
            rooms: rooms.clone(),
            config,
            counters,
            media,
        });
        let mut heartbeats = client
            .subscribe(wire::HEARTBEAT)
            .await
            .map_err(|e| ClusterError::Subscribe(e.to_string()))?;
        let mut opens = client
            .subscribe(wire::open_subject(&me))
            .await
            .map_err(|e| ClusterError::Subscribe(e.to_string()))?;
        shared.beat().await;
        let mut tasks = Vec::new();
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT_EVERY);
            loop {
                every.tick().await;
                s.beat().await;
                lock(&s.nodes).prune(Instant::now());
            }
        }));
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(message) = heartbeats.next().await {
                if let Ok(heartbeat) = serde_json::from_slice::<Heartbeat>(&message.payload) {
                    lock(&s.nodes).heard(heartbeat, Instant::now());
                }
            }
        }));
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            while let Some(request) = opens.next().await {
                tokio::spawn(session::open(s.clone(), request));
            }
        }));
        let s = shared.clone();
        tasks.push(tokio::spawn(watch_placements(s)));
        let s = shared.clone();
        let mut closed = rooms.closed_rooms();
        tasks.push(tokio::spawn(async move {
            while let Some(room) = closed.recv().await {
                s.release(&room).await;
            }
        }));
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            // The first event is the first connection.
            let _ = reconnects.recv().await;
            while reconnects.recv().await.is_some() {
                tracing::info!("reconnected to NATS");
                lock(&s.nodes).reconnected(Instant::now());
                s.beat().await;
                s.reassert().await;
            }
        }));
        tracing::info!(node = %me, "joined the cluster");
        Ok(Cluster {
            shared,
            tasks: Arc::new(Mutex::new(tasks)),
        })
    }

    /// This node's id.
    pub fn node(&self) -> &str {
        &self.shared.me
    }

    /// The nodes alive now: id, rooms, participants (for `/metrics`).
    pub fn node_counts(&self) -> Vec<(String, usize, u64)> {
        lock(&self.shared.nodes)
            .alive_nodes(Instant::now())
            .into_iter()
            .map(|n| {
                (
                    n.heartbeat.node.clone(),
                    n.heartbeat.rooms,
                    n.heartbeat.participants,
                )
            })
            .collect()
    }

    /// Serves one browser's WebSocket: reads its join, finds (or places) the room's node, and
    /// runs the session here or carries it there.
    pub async fn serve<S>(&self, mut socket: S)
    where
        S: Stream<Item = Result<Message, axum::Error>> + Sink<Message> + Unpin,
    {
        let shared = &self.shared;
        let config = &shared.config;
        let first = match tokio::time::timeout(config.join_timeout(), socket.next()).await {
            Ok(Some(Ok(message))) => message,
            // Signaling says why (a timeout, a close) as it always has.
            _ => {
                return crate::signaling::serve(
                    socket,
                    shared.rooms.clone(),
                    config,
                    &shared.counters,
                )
                .await
            }
        };
        let room = match &first {
            Message::Text(text) => match ClientMessage::decode(text.as_str()) {
                Ok(ClientMessage::Join { version, room, .. }) if version == PROTOCOL_VERSION => {
                    Some(room)
                }
                _ => None,
            },
            _ => None,
        };
        let (Some(room), Message::Text(text)) = (room, &first) else {
            return self.local(first, socket).await;
        };
        let text = text.as_str().to_owned();
        let mut avoid: Option<String> = None;
        for _ in 0..3 {
            let owner = match shared.place(&room, avoid.as_deref()).await {
                Ok(owner) => owner,
                Err(error) => {
                    tracing::warn!(%error, "cannot place a room");
                    if shared.rooms.has(&room) {
                        return self.local(first, socket).await;
                    }
                    return refuse(socket, ErrorCode::ServerFull).await;
                }
            };
            if owner == shared.me {
                return self.local(first, socket).await;
            }
            match session::carry(shared, &mut socket, &text, &owner).await {
                Ok(()) => return,
                Err(CarryError::OwnerGone) => avoid = Some(owner),
                Err(CarryError::Elsewhere) => avoid = None,
                Err(error) => {
                    tracing::warn!(%error, "cannot carry a session");
                    return refuse(socket, ErrorCode::ServerFull).await;
                }
            }
        }
        refuse(socket, ErrorCode::ServerFull).await;
    }

    async fn local<S>(&self, first: Message, mut socket: S)
    where
        S: Stream<Item = Result<Message, axum::Error>> + Sink<Message> + Unpin,
    {
        let shared = &self.shared;
        let replay = duplex::Replay::new(first, &mut socket);
        crate::signaling::serve(
            replay,
            shared.rooms.clone(),
            &shared.config,
            &shared.counters,
        )
        .await;
    }

    /// Draining (SIGTERM): stop taking rooms, say so, and give this node's placements up, so
    /// that the browsers, told to rejoin, land on other nodes. Sessions carried from here to
    /// others are closed the same way.
    pub async fn drain(&self) {
        let shared = &self.shared;
        shared.draining.send_replace(true);
        shared.beat().await;
        shared.release_all().await;
        let _ = shared.client.flush().await;
        tracing::info!("draining: placements given up");
    }

    /// Stops this node's tasks (after [`Cluster::drain`] and the rooms' shutdown).
    pub async fn leave(&self) {
        let _ = self.shared.client.flush().await;
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

/// The placement bucket, made if it is not there. Made as the stream a key-value bucket is
/// (what `create_key_value` would make), because that call first reads account fields that
/// nats-server 2.9 (Debian 12's) does not send.
async fn placement_bucket(client: &async_nats::Client) -> Result<kv::Store, ClusterError> {
    use jetstream::stream::{Config, DiscardPolicy, StorageType};
    let jetstream = jetstream::new(client.clone());
    let bucket = |e: &dyn std::fmt::Display| ClusterError::Bucket(e.to_string());
    jetstream
        .get_or_create_stream(Config {
            name: format!("KV_{}", wire::BUCKET),
            subjects: vec![format!("$KV.{}.>", wire::BUCKET)],
            max_messages_per_subject: 1,
            storage: StorageType::File,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: true,
            discard: DiscardPolicy::New,
            num_replicas: 1,
            ..Default::default()
        })
        .await
        .map_err(|e| bucket(&e))?;
    jetstream
        .get_key_value(wire::BUCKET)
        .await
        .map_err(|e| bucket(&e))
}

/// Watches the placement bucket, keeping [`Placed`] current; starts again after an outage.
async fn watch_placements(shared: Arc<Shared>) {
    loop {
        match shared.kv.watch_all().await {
            Ok(mut watch) => {
                lock(&shared.placed).clear();
                // Entries already there come first, then every change.
                while let Some(entry) = watch.next().await {
                    match entry {
                        Ok(entry) => lock(&shared.placed).apply(&entry),
                        Err(_) => break,
                    }
                }
            }
            Err(error) => tracing::debug!(%error, "cannot watch placements yet"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Closes a socket before any join with `code` (retryable ones make the browser try again).
async fn refuse<S>(mut socket: S, code: ErrorCode)
where
    S: Sink<Message> + Unpin,
{
    let frame = axum::extract::ws::CloseFrame {
        code: code.close_code(),
        reason: "no node can take the room now".into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
    let _ = socket.close().await;
}
