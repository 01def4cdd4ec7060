//! Signaling carried between nodes: a browser's WebSocket on one node (the *entry*), its room
//! on another (the *owner*).
//!
//! ```text
//!  browser ═WS═ entry node ── open (first frame) ──────────► owner: is the room mine? yes
//!                          ── up: frames as sent ──────────► Channels ─► signaling ─► room
//!                          ◄─ down: frames as the room says ◄─ Channels ◄┘
//! ```
//! Generic by design: the entry reads the first message only to learn the room; every message
//! after it goes up as the browser sent it, and every message down as the owner wrote it, so a
//! message type added to the protocol passes through untouched. All of signaling's rules (rate,
//! access, join timeout, idle timeout) are enforced on the owner, where the room is, exactly as
//! for a local WebSocket; the entry has already applied the per-address caps and the size limit
//! at the upgrade.
//!
//! What ends a carried session: either side closing; a lost frame (sequence gap: core NATS
//! delivers at most once), which closes the browser's socket with a retryable code so it
//! rejoins in step; the owner falling silent (no heartbeat: [`super::nodes::DEAD_AFTER`]) or
//! draining, which closes it with "restarting" (4012) so the browser rejoins and the room is
//! placed again; the entry falling silent, which the owner's idle timeout ends.

use std::sync::Arc;
use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::HeaderMap;
use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use veilig_protocol::{ClientMessage, ErrorCode};

use super::duplex::Channels;
use super::wire::{self, Frame, Opened};
use super::Shared;
use crate::counters::Gauge;

/// How long the owner may take to take a session.
const OPEN_TIMEOUT: Duration = Duration::from_secs(5);
/// How often the entry checks that the owner is still there.
const OWNER_CHECK: Duration = Duration::from_millis(250);
/// Frames queued (on the owner from the entry, on the entry toward NATS) before the session is
/// dropped as too slow.
const INCOMING: usize = 256;

/// Why a session could not be carried to the owner.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CarryError {
    /// Nobody answers for the owner: it is gone.
    #[error("the room's node does not answer")]
    OwnerGone,
    /// The owner says the room is not its own (any more).
    #[error("the room's node says the room is elsewhere")]
    Elsewhere,
    /// NATS refused.
    #[error("NATS: {0}")]
    Nats(String),
}

/// Entry side: carries the session whose first message was `first` to `owner`, until it ends.
/// `Err` only if the owner never took it (nothing was sent to the browser then).
pub async fn carry<S>(
    shared: &Shared,
    socket: &mut S,
    first: &str,
    owner: &str,
) -> Result<(), CarryError>
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message> + Unpin,
{
    let session = wire::random_id();
    let client = &shared.client;
    let mut down = client
        .subscribe(wire::down_subject(&session))
        .await
        .map_err(|e| CarryError::Nats(e.to_string()))?;
    let mut headers = HeaderMap::new();
    headers.insert(wire::SESSION_HEADER, session.as_str());
    let request = client.request_with_headers(
        wire::open_subject(owner),
        headers,
        Frame::Text(first.to_owned()).encode(0).into(),
    );
    let reply = match tokio::time::timeout(OPEN_TIMEOUT, request).await {
        Err(_) => return Err(CarryError::OwnerGone),
        Ok(Err(error)) if error.kind() == RequestErrorKind::NoResponders => {
            return Err(CarryError::OwnerGone)
        }
        Ok(Err(error)) if error.kind() == RequestErrorKind::TimedOut => {
            return Err(CarryError::OwnerGone)
        }
        Ok(Err(error)) => return Err(CarryError::Nats(error.to_string())),
        Ok(Ok(reply)) => reply,
    };
    if Opened::from_bytes(&reply.payload) != Opened::Yes {
        return Err(CarryError::Elsewhere);
    }
    let _open = shared.counters.hold(Gauge::SignalingConnections);
    let up = wire::up_subject(&session);
    let mut sent = 0u64;
    let mut expected = 0u64;
    let mut draining = shared.draining.subscribe();
    let mut check = tokio::time::interval(OWNER_CHECK);
    // Published from a task of its own, so this loop keeps reading the browser and checking
    // the owner while NATS is slow or away. A frame that does not fit the queue is dropped: the
    // owner sees the gap and ends the session, and the browser rejoins in step.
    let (queue, mut queued) = mpsc::channel::<(Frame, u64)>(INCOMING);
    let publisher = client.clone();
    tokio::spawn(async move {
        while let Some((frame, seq)) = queued.recv().await {
            let _ = publisher
                .publish(up.clone(), frame.encode(seq).into())
                .await;
        }
    });
    let send_up = |frame: Frame, seq: u64| {
        let _ = queue.try_send((frame, seq));
    };
    loop {
        tokio::select! {
            message = socket.next() => {
                let frame = match message {
                    Some(Ok(Message::Text(text))) => Frame::Text(text.as_str().to_owned()),
                    Some(Ok(Message::Binary(bytes))) => Frame::Binary(bytes.to_vec()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        sent += 1;
                        send_up(Frame::Close(None), sent);
                        return Ok(());
                    }
                };
                sent += 1;
                send_up(frame, sent);
            }
            message = down.next() => {
                let decoded = message.as_ref().map(|m| Frame::decode(&m.payload));
                let frame = match decoded {
                    Some(Ok((seq, frame))) if seq == expected => { expected += 1; frame }
                    // A lost or garbled frame: out of step, so start again.
                    Some(_) => {
                        sent += 1;
                        send_up(Frame::Close(None), sent);
                        close(socket, ErrorCode::ConnectionLost, "signaling lost a message").await;
                        return Ok(());
                    }
                    None => {
                        close(socket, ErrorCode::ShuttingDown, "the relay is restarting").await;
                        return Ok(());
                    }
                };
                match frame {
                    Frame::Text(text) => {
                        if socket.send(Message::Text(text.into())).await.is_err() {
                            sent += 1;
                            send_up(Frame::Close(None), sent);
                            return Ok(());
                        }
                    }
                    Frame::Binary(_) => {}
                    Frame::Close(Some((code, reason))) => {
                        let frame = CloseFrame { code, reason: reason.into() };
                        let _ = socket.send(Message::Close(Some(frame))).await;
                        let _ = socket.close().await;
                        return Ok(());
                    }
                    Frame::Close(None) => {
                        let _ = socket.close().await;
                        return Ok(());
                    }
                }
            }
            _ = check.tick() => {
                let gone = !shared.alive(owner) || shared.is_draining(owner) || *draining.borrow_and_update();
                if gone {
                    sent += 1;
                    send_up(Frame::Close(None), sent);
                    close(socket, ErrorCode::ShuttingDown, "the relay is restarting").await;
                    return Ok(());
                }
            }
        }
    }
}

/// Closes the browser's socket with `code`, as signaling would.
async fn close<S: Sink<Message> + Unpin>(socket: &mut S, code: ErrorCode, reason: &str) {
    let frame = CloseFrame {
        code: code.close_code(),
        reason: reason.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
    let _ = socket.close().await;
}

/// Owner side: answers a request to open a session, and runs it if the room is this node's.
pub async fn open(shared: Arc<Shared>, request: async_nats::Message) {
    let Some(reply) = request.reply.clone() else {
        return;
    };
    let session = request
        .headers
        .as_ref()
        .and_then(|headers| headers.get(wire::SESSION_HEADER))
        .map(|value| value.as_str().to_owned());
    let first = match (session, Frame::decode(&request.payload)) {
        (Some(session), Ok((0, Frame::Text(first)))) => (session, first),
        _ => return,
    };
    let (session, first) = first;
    // A first message that is not a join: signaling refuses it, as it would locally.
    let mine = match ClientMessage::decode(&first) {
        Ok(ClientMessage::Join { room, .. }) => shared.owns(&room).await,
        _ => true,
    };
    if !mine {
        let _ = shared
            .client
            .publish(reply, Opened::Elsewhere.as_bytes().into())
            .await;
        return;
    }
    let up = match shared.client.subscribe(wire::up_subject(&session)).await {
        Ok(up) => up,
        Err(error) => {
            tracing::warn!(%error, "cannot take a carried session");
            return;
        }
    };
    if shared
        .client
        .publish(reply, Opened::Yes.as_bytes().into())
        .await
        .is_err()
    {
        return;
    }
    let (incoming_tx, incoming) = mpsc::channel(INCOMING);
    let (outgoing, outgoing_rx) = mpsc::unbounded_channel();
    let _ = incoming_tx.try_send(Message::Text(first.into()));
    let pump_up = tokio::spawn(pump_up(up, incoming_tx));
    let pump_down = tokio::spawn(pump_down(
        shared.client.clone(),
        wire::down_subject(&session),
        outgoing_rx,
    ));
    let socket = Channels { incoming, outgoing };
    crate::signaling::serve_carried(
        socket,
        shared.rooms.clone(),
        &shared.config,
        &shared.counters,
    )
    .await;
    pump_up.abort();
    let _ = pump_down.await;
}

/// Frames from the entry, in order, into the session; a gap ends it.
async fn pump_up(mut up: async_nats::Subscriber, incoming: mpsc::Sender<Message>) {
    let mut expected = 1u64;
    while let Some(message) = up.next().await {
        let Ok((seq, frame)) = Frame::decode(&message.payload) else {
            return;
        };
        if seq != expected {
            return;
        }
        expected += 1;
        let message = match frame {
            Frame::Text(text) => Message::Text(text.into()),
            Frame::Binary(bytes) => Message::Binary(bytes.into()),
            Frame::Close(_) => return,
        };
        if incoming.try_send(message).is_err() {
            return;
        }
    }
}

/// The session's replies, in order, to the entry; when the session ends without closing, a
/// close (the entry must not wait for an idle timeout).
async fn pump_down(
    client: async_nats::Client,
    down: String,
    mut outgoing: mpsc::UnboundedReceiver<Message>,
) {
    let mut seq = 0u64;
    while let Some(message) = outgoing.recv().await {
        let frame = match message {
            Message::Text(text) => Frame::Text(text.as_str().to_owned()),
            Message::Binary(bytes) => Frame::Binary(bytes.to_vec()),
            Message::Close(close) => {
                Frame::Close(close.map(|close| (close.code, close.reason.as_str().to_owned())))
            }
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        let last = matches!(frame, Frame::Close(_));
        let _ = client.publish(down.clone(), frame.encode(seq).into()).await;
        seq += 1;
        if last {
            return;
        }
    }
    let _ = client
        .publish(down, Frame::Close(None).encode(seq).into())
        .await;
}
