//! Two small adapters that let [`crate::signaling`] run on what is not a WebSocket, since it is
//! written over any `Stream + Sink` of WebSocket messages:
//!
//! - [`Channels`]: a session carried over NATS, seen by the room's node as a socket (frames
//!   arrive on one channel, replies leave on another);
//! - [`Replay`]: a WebSocket whose first message has been read already (to learn the room) and
//!   is handed back first.
//!
//! No IO and no rules here: the pumps that move frames are in [`super::session`].

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::ws::Message;
use futures_util::{Sink, Stream};
use tokio::sync::mpsc;

/// A socket made of two channels.
pub struct Channels {
    /// What the browser sent, in order.
    pub incoming: mpsc::Receiver<Message>,
    /// What goes back to it.
    pub outgoing: mpsc::UnboundedSender<Message>,
}

impl Stream for Channels {
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.incoming.poll_recv(cx).map(|message| message.map(Ok))
    }
}

/// The other end is gone.
#[derive(Debug, thiserror::Error)]
#[error("the carried session has ended")]
pub struct Ended;

impl Sink<Message> for Channels {
    type Error = Ended;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Ended>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Ended> {
        self.outgoing.send(message).map_err(|_| Ended)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Ended>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Ended>> {
        Poll::Ready(Ok(()))
    }
}

/// `inner`, with `first` handed out before anything it reads.
pub struct Replay<'a, S> {
    first: Option<Message>,
    inner: &'a mut S,
}

impl<'a, S> Replay<'a, S> {
    /// Hands out `first`, then what `inner` reads.
    pub fn new(first: Message, inner: &'a mut S) -> Self {
        Replay {
            first: Some(first),
            inner,
        }
    }
}

impl<S> Stream for Replay<'_, S>
where
    S: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    type Item = Result<Message, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        Pin::new(&mut *self.inner).poll_next(cx)
    }
}

impl<S> Sink<Message> for Replay<'_, S>
where
    S: Sink<Message> + Unpin,
{
    type Error = S::Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut *self.inner).poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), S::Error> {
        Pin::new(&mut *self.inner).start_send(message)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut *self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        Pin::new(&mut *self.inner).poll_close(cx)
    }
}
