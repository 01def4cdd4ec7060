//! One browser's signaling connection: reads [`ClientMessage`]s from its WebSocket, hands them
//! to its room, and writes the room's [`ServerMessage`]s back.
//!
//! Written over any `Stream + Sink` of axum WebSocket messages, so tests can drive it without a
//! socket. Every rule is enforced here, per connection, and breaking one closes *this*
//! connection with an error message and a close code ([`ErrorCode::close_code`]): messages over
//! the size limit, binary or malformed messages, a flood beyond the rate limit, no `join` within
//! the join timeout, silence beyond the idle timeout. The relay and every other connection carry
//! on. Each close is counted by its reason for operators ([`crate::metrics`]), never by who.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::mpsc;
use veilig_protocol::{ClientMessage, ErrorCode, ParticipantId, ServerMessage, PROTOCOL_VERSION};

use crate::config::Config;
use crate::counters::{Counters, Gauge};
use crate::input::RoomInput;
use crate::room::Handshake;
use crate::rooms::Rooms;

/// Messages the room may queue for a slow connection before it is dropped.
const OUTBOX: usize = 256;

/// A token bucket: `burst` messages at once, refilled at `rate` per second.
struct RateLimit {
    tokens: f64,
    burst: f64,
    rate: f64,
    last: Instant,
}

impl RateLimit {
    fn new(rate: u32, burst: u32) -> Self {
        RateLimit {
            tokens: f64::from(burst),
            burst: f64::from(burst),
            rate: f64::from(rate),
            last: Instant::now(),
        }
    }

    fn allow(&mut self, now: Instant) -> bool {
        self.tokens =
            (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why a connection ends.
struct Closing {
    code: ErrorCode,
    message: String,
}

impl Closing {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Closing {
            code,
            message: message.into(),
        }
    }
}

/// Serves one connection until it closes; counts it, and why the relay closed it, in
/// `counters`.
pub async fn serve<S>(mut socket: S, rooms: Rooms, config: &Config, counters: &Arc<Counters>)
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message> + Unpin,
{
    let _open = counters.hold(Gauge::SignalingConnections);
    counters.signaling_total.fetch_add(1, Ordering::Relaxed);
    if let Some(closing) = session(&mut socket, rooms, config).await {
        counters.closed(closing.code);
        close(&mut socket, closing).await;
    }
}

/// [`serve`] for a session carried from another node ([`crate::cluster`]): the same rules,
/// but the connection is counted on the node that holds the WebSocket, not here.
pub async fn serve_carried<S>(
    mut socket: S,
    rooms: Rooms,
    config: &Config,
    counters: &Arc<Counters>,
) where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message> + Unpin,
{
    if let Some(closing) = session(&mut socket, rooms, config).await {
        counters.closed(closing.code);
        close(&mut socket, closing).await;
    }
}

/// Joins and relays; `Some` when the relay ends the connection, with the reason to send.
async fn session<S>(socket: &mut S, rooms: Rooms, config: &Config) -> Option<Closing>
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message> + Unpin,
{
    let mut limit = RateLimit::new(config.messages_per_second, config.message_burst);
    let first =
        match tokio::time::timeout(config.join_timeout(), next_message(socket, &mut limit)).await {
            Err(_) => Err(Closing::new(ErrorCode::IdleTimeout, "no join in time")),
            Ok(result) => result,
        };
    let room = match first {
        Ok(Some(ClientMessage::Join { version, .. })) if version != PROTOCOL_VERSION => {
            Err(Closing::new(
                ErrorCode::UnsupportedVersion,
                format!("this relay speaks version {PROTOCOL_VERSION}"),
            ))
        }
        Ok(Some(ClientMessage::Join { room, access, .. })) => Ok((room, access)),
        Ok(Some(_)) => Err(Closing::new(ErrorCode::WrongState, "join first")),
        Ok(None) => return None,
        Err(closing) => Err(closing),
    };
    let (room, access) = match room {
        Ok(joining) => joining,
        Err(closing) => return Some(closing),
    };
    let (signal, mut outbox) = mpsc::channel(OUTBOX);
    let (participant, inbox) = match rooms.join(&room, &access, signal).await {
        Ok(joined) => joined,
        Err(ErrorCode::AccessDenied) => {
            return Some(Closing::new(
                ErrorCode::AccessDenied,
                "the access value does not match the room's",
            ))
        }
        Err(code) => return Some(Closing::new(code, "cannot join")),
    };
    let ending = run(
        socket,
        &mut outbox,
        &inbox,
        &participant,
        &mut limit,
        config.idle_timeout(),
    )
    .await;
    let _ = inbox.send(RoomInput::Leave { participant }).await;
    ending
}

/// Relays messages both ways until one side ends. `None`: the browser closed or left.
async fn run<S>(
    socket: &mut S,
    outbox: &mut mpsc::Receiver<ServerMessage>,
    inbox: &mpsc::Sender<RoomInput>,
    participant: &ParticipantId,
    limit: &mut RateLimit,
    idle_timeout: Duration,
) -> Option<Closing>
where
    S: Stream<Item = Result<Message, axum::Error>> + Sink<Message> + Unpin,
{
    let mut deadline = tokio::time::Instant::now() + idle_timeout;
    loop {
        tokio::select! {
            message = next_message(socket, limit) => {
                deadline = tokio::time::Instant::now() + idle_timeout;
                let input = match message {
                    Err(closing) => return Some(closing),
                    Ok(None) | Ok(Some(ClientMessage::Leave)) => return None,
                    Ok(Some(ClientMessage::Join { .. })) => return Some(Closing::new(ErrorCode::WrongState, "already joined")),
                    Ok(Some(ClientMessage::Ping)) => {
                        if send(socket, &ServerMessage::Pong).await.is_err() { return None; }
                        continue;
                    }
                    Ok(Some(ClientMessage::Answer { sdp })) => RoomInput::Answer { participant: participant.clone(), sdp },
                    Ok(Some(ClientMessage::Blob { to, data })) => RoomInput::Blob { from: participant.clone(), to, data },
                    Ok(Some(ClientMessage::KeyPackage { data })) => RoomInput::Handshake { from: participant.clone(), message: Handshake::KeyPackage { data } },
                    Ok(Some(ClientMessage::Commit { commit, welcome, link_tag })) => RoomInput::Handshake { from: participant.clone(), message: Handshake::Commit { commit, welcome, link_tag } },
                };
                if inbox.send(input).await.is_err() {
                    return Some(Closing::new(ErrorCode::Internal, "the room is gone"));
                }
            }
            message = outbox.recv() => match message {
                Some(ServerMessage::Error { code, message }) => return Some(Closing { code, message }),
                Some(message) => if send(socket, &message).await.is_err() { return None; },
                None => return Some(Closing::new(ErrorCode::Internal, "the room is gone")),
            },
            _ = tokio::time::sleep_until(deadline) => return Some(Closing::new(ErrorCode::IdleTimeout, "idle for too long")),
        }
    }
}

/// The next protocol message; `Ok(None)` when the browser closed the connection.
async fn next_message<S>(
    socket: &mut S,
    limit: &mut RateLimit,
) -> Result<Option<ClientMessage>, Closing>
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    loop {
        let message = match socket.next().await {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(None),
            Some(Ok(message)) => message,
        };
        if !limit.allow(Instant::now()) {
            return Err(Closing::new(ErrorCode::RateLimited, "too many messages"));
        }
        match message {
            Message::Text(text) => {
                return ClientMessage::decode(text.as_str())
                    .map(Some)
                    .map_err(|error| Closing::new(error.code(), error.to_string()));
            }
            Message::Binary(_) => {
                return Err(Closing::new(
                    ErrorCode::BadMessage,
                    "binary messages are not part of the protocol",
                ))
            }
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => continue,
        }
    }
}

async fn send<S: Sink<Message> + Unpin>(
    socket: &mut S,
    message: &ServerMessage,
) -> Result<(), S::Error> {
    socket.send(Message::Text(message.encode().into())).await
}

/// Sends the error, then the close frame with its code.
async fn close<S: Sink<Message> + Unpin>(socket: &mut S, closing: Closing) {
    tracing::debug!(code = ?closing.code, message = %closing.message, "closing a signaling connection");
    let _ = send(
        socket,
        &ServerMessage::Error {
            code: closing.code,
            message: closing.message.clone(),
        },
    )
    .await;
    let frame = CloseFrame {
        code: closing.code.close_code(),
        reason: closing.message.into(),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
    let _ = socket.close().await;
}
