//! What reaches a room, and how the media routers find it: the room's input ([`RoomInput`]),
//! the packets in it ([`Datagram`]), the way back to an ICE-TCP connection ([`Link`]), and the
//! requests to the UDP router's table of ufrags ([`RouteRequest`]).
//!
//! Types only, shared by the room ([`crate::room`]) and everything that feeds it (signaling,
//! [`crate::udp`], [`crate::tcp`]), so that none of them depends on another through these.
//! Nothing here reads a socket or decides anything.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use str0m::net::Protocol;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};
use veilig_protocol::{ErrorCode, ParticipantId, ServerMessage};

use crate::counters::TcpStats;

/// What a room task receives.
#[derive(Debug)]
pub enum RoomInput {
    /// A signaling connection wants in.
    Join {
        /// Where the room sends this participant's messages.
        signal: mpsc::Sender<ServerMessage>,
        /// The new participant's id, or why not.
        reply: oneshot::Sender<Result<ParticipantId, ErrorCode>>,
    },
    /// The answer to the participant's outstanding offer.
    Answer {
        /// Who.
        participant: ParticipantId,
        /// SDP answer.
        sdp: String,
    },
    /// An opaque blob to pass on.
    Blob {
        /// Sender.
        from: ParticipantId,
        /// One recipient, or everyone else.
        to: Option<ParticipantId>,
        /// As received.
        data: String,
    },
    /// An MLS handshake message to deliver (see `room::handshake`).
    Handshake {
        /// Sender.
        from: ParticipantId,
        /// What.
        message: crate::room::Handshake,
    },
    /// The participant left or its connection closed.
    Leave {
        /// Who.
        participant: ParticipantId,
    },
    /// A datagram, or a packet from a TCP connection, for one of the room's peers.
    Datagram(Datagram),
    /// A TCP connection whose first packet named a peer of this room; its packets follow.
    Link(Link),
    /// The relay is shutting down.
    Shutdown,
    /// Test-only: lie to the participants (see [`crate::hostile`]); replies with how many
    /// victims were sent the lie.
    #[cfg(feature = "hostile")]
    Attack {
        /// The lie.
        attack: crate::hostile::Attack,
        /// How many victims, or why not now.
        reply: oneshot::Sender<Result<usize, crate::hostile::NotNow>>,
    },
}

/// A packet for a room: a UDP datagram, or one framed packet of an ICE-TCP connection.
#[derive(Debug)]
pub struct Datagram {
    /// When it arrived.
    pub at: Instant,
    /// How: [`Protocol::Udp`] or [`Protocol::Tcp`].
    pub proto: Protocol,
    /// Who sent it.
    pub source: SocketAddr,
    /// The address it was sent to, as advertised in our ICE candidate.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Vec<u8>,
}

/// Requests to the routing table: changes from rooms, look-ups from TCP connections.
#[derive(Debug)]
pub enum RouteRequest {
    /// Datagrams for this relay ufrag go to this room.
    Register {
        /// The relay side's ICE ufrag of one peer.
        ufrag: String,
        /// The room's input.
        room: mpsc::Sender<RoomInput>,
    },
    /// The peer left: forget its ufrag and the addresses bound to it.
    Unregister {
        /// As registered.
        ufrag: String,
    },
    /// Which room owns this relay ufrag, if any (a TCP connection's first packet names it).
    Find {
        /// The relay side's ICE ufrag from the packet's STUN USERNAME.
        ufrag: String,
        /// The room's input, or `None`.
        reply: oneshot::Sender<Option<mpsc::Sender<RoomInput>>>,
    },
}

/// Most TCP connections one peer keeps (a browser opens one per local interface it tries).
pub const MAX_LINKS_PER_PEER: usize = 4;
/// Where a room sends one peer's packets back over one TCP connection. Dropping it ends the
/// connection.
#[derive(Debug)]
pub struct Link {
    /// The relay ufrag the connection's first packet named.
    pub ufrag: String,
    /// The connection's remote address: str0m's `Transmit::destination` for it.
    pub remote: SocketAddr,
    packets: mpsc::Sender<Vec<u8>>,
    stats: Arc<TcpStats>,
}

/// The connection behind a [`Link`] has ended.
#[derive(Debug, thiserror::Error)]
#[error("the TCP connection has ended")]
pub struct LinkClosed;

impl Link {
    /// A link for the connection whose first packet named `ufrag`, from `remote`; the room's
    /// packets go to `packets`, and drops are counted in `stats`.
    pub fn new(
        ufrag: String,
        remote: SocketAddr,
        packets: mpsc::Sender<Vec<u8>>,
        stats: Arc<TcpStats>,
    ) -> Self {
        Link {
            ufrag,
            remote,
            packets,
            stats,
        }
    }

    /// Queues `packet` for the connection. A full queue drops it, as a full UDP socket would;
    /// an ended connection is an error, and the link should be forgotten.
    pub fn send(&self, packet: Vec<u8>) -> Result<(), LinkClosed> {
        if packet.len() > usize::from(u16::MAX) {
            // Cannot be framed; str0m never makes one (packets stay under the MTU).
            self.stats.unsent.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        match self.packets.try_send(packet) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => {
                self.stats.unsent.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Closed(_)) => Err(LinkClosed),
        }
    }
}
