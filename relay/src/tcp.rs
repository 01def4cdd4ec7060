//! ICE over TCP (RFC 6544) for guests whose network blocks UDP: one TCP listener, a *passive*
//! host candidate next to the UDP one, and each connection's packets routed to the room that
//! owns its peer, as [`crate::udp`] routes datagrams.
//!
//! ```text
//!  browser ─TCP─► listener ─► connection task
//!                               │ first packet: a STUN request, USERNAME <relay ufrag>:<browser ufrag>
//!                               │   └─► router: which room owns this ufrag? (RouteRequest::Find)
//!                               ├─► room: a Link (how to reach this connection), then every packet
//!                               │         as a Datagram with proto TCP, in order
//!                               ◄── Link ◄── room: Transmit with proto TCP to the connection's address
//! ```
//! Framing is RFC 4571's, as RFC 6544 asks: every packet (STUN, DTLS, SRTP, SRTCP) is preceded
//! by its length in two bytes, big-endian. str0m stays sans-IO: it sees TCP packets as it sees
//! datagrams, with [`Protocol::Tcp`], and its ICE agent pairs them with the TCP candidate.
//!
//! What this module does not do: it authenticates nothing (the peer's `Rtc` checks STUN
//! integrity and DTLS, as for UDP; a connection that names a ufrag it does not own gets no
//! answer); it never connects out (the relay is ICE-lite: passive candidates only, no active or
//! simultaneous-open); it does not speak TLS (`ssltcp`). Networks that allow nothing but TLS on
//! 443 need a TURN server (`--turn-uri`, see [`crate::turn`]).
//!
//! Bounds, so that unauthenticated connections cost little: at most [`MAX_UNCLAIMED`]
//! connections waiting for their first packet, and at most the per-address cap
//! (`--max-waiting-ice-tcp-per-address`, [`crate::limits`]) from one address, so one host cannot
//! take every slot; each waits at most [`FIRST_PACKET_TIMEOUT`];
//! packets of at most [`MAX_PACKET`] bytes (a longer one ends the connection); at most
//! [`OUTGOING`] packets queued toward a connection (more are dropped, as a full UDP socket
//! would); at most [`MAX_LINKS_PER_PEER`] connections per peer (kept by its room). Reading waits
//! while the room's queue is full, so a fast sender is slowed by TCP itself. A connection ends
//! when either side closes it, or when its peer leaves the room and the [`Link`] is dropped.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use str0m::net::Protocol;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

use crate::counters::{Counters, Gauge, TcpStats};
use crate::input::{Datagram, Link, RoomInput, RouteRequest};
use crate::limits::{AddressLimits, AddressPermit, Cap};
use crate::udp::stun_username_target;

/// Largest packet accepted from a connection, the same as the UDP router's receive buffer:
/// WebRTC keeps packets under the path MTU over TCP too.
pub const MAX_PACKET: usize = 2048;
/// Most connections at once that have not yet named a participant.
pub const MAX_UNCLAIMED: usize = 256;
/// How long a new connection may take to send its first packet.
pub const FIRST_PACKET_TIMEOUT: Duration = Duration::from_secs(10);
/// Packets queued toward one connection before more are dropped.
pub const OUTGOING: usize = 128;
/// Largest write gathered from queued packets.
const WRITE_BATCH: usize = 16 * 1024;

/// Why a connection ended early.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TcpError {
    /// No first packet within [`FIRST_PACKET_TIMEOUT`].
    #[error("no first packet in time")]
    Silent,
    /// The first packet is not a STUN request naming a participant of this relay.
    #[error("the first packet names no participant here")]
    Unclaimed,
    /// A frame longer than [`MAX_PACKET`].
    #[error("a packet of {0} bytes is over the limit")]
    TooLarge(usize),
    /// The room (or the relay) is gone.
    #[error("the room is gone")]
    RoomGone,
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What every connection needs from the relay.
#[derive(Clone, Debug)]
pub struct TcpContext {
    /// The passive candidate's address: where browsers connect to, and what str0m is told
    /// packets were sent to.
    pub candidate: SocketAddr,
    /// The router's table of relay ufrags.
    pub routes: mpsc::Sender<RouteRequest>,
    /// TCP counts.
    pub stats: Arc<TcpStats>,
    /// For the open-connections gauge.
    pub counters: Arc<Counters>,
    /// Per-address caps: waiting connections per address.
    pub limits: Arc<AddressLimits>,
}

/// Accepts connections on `listener` until the task is aborted.
pub async fn serve(listener: TcpListener, ctx: TcpContext) {
    let unclaimed = Arc::new(Semaphore::new(MAX_UNCLAIMED));
    loop {
        let (stream, remote) = crate::net::accept(&listener).await;
        ctx.stats.accepted.fetch_add(1, Ordering::Relaxed);
        // Over the address's cap first: one host must not take the shared slots.
        let Some(own) = ctx.limits.hold(Cap::IceTcpWaiting, remote.ip()) else {
            ctx.stats.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let Ok(permit) = unclaimed.clone().try_acquire_owned() else {
            ctx.stats.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let _open = ctx.counters.hold(Gauge::TcpConnections);
            if let Err(error) = connection(stream, remote, &ctx, (permit, own)).await {
                tracing::debug!(%error, "ICE-TCP connection ended");
            }
        });
    }
}

/// One connection: claimed by its first packet, then a pipe both ways until either side ends.
/// `unclaimed` holds its waiting slots (the relay's and its address's) until then.
async fn connection(
    stream: TcpStream,
    remote: SocketAddr,
    ctx: &TcpContext,
    unclaimed: (OwnedSemaphorePermit, AddressPermit),
) -> Result<(), TcpError> {
    stream.set_nodelay(true)?;
    let (reader, writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let (room, first, outgoing) = match claim(&mut reader, remote, ctx).await {
        Ok(claimed) => claimed,
        Err(error) => {
            ctx.stats.refused.fetch_add(1, Ordering::Relaxed);
            return Err(error);
        }
    };
    drop(unclaimed);
    let deliver = |contents: Vec<u8>| {
        ctx.stats.received.fetch_add(1, Ordering::Relaxed);
        let len = contents.len() as u64;
        ctx.stats.received_bytes.fetch_add(len, Ordering::Relaxed);
        let datagram = Datagram {
            at: Instant::now(),
            proto: Protocol::Tcp,
            source: remote,
            destination: ctx.candidate,
            contents,
        };
        room.send(RoomInput::Datagram(datagram))
    };
    deliver(first).await.map_err(|_| TcpError::RoomGone)?;
    let reading = async {
        while let Some(packet) = read_packet(&mut reader).await? {
            deliver(packet).await.map_err(|_| TcpError::RoomGone)?;
        }
        Ok(())
    };
    tokio::select! {
        read = reading => read,
        written = write_packets(writer, outgoing, &ctx.stats) => written,
    }
}

/// Reads the first packet, finds the room of the ufrag it names and gives that room a [`Link`]
/// to this connection. Returns the room, the packet, and the queue the room writes to.
async fn claim<R: AsyncRead + Unpin>(
    reader: &mut R,
    remote: SocketAddr,
    ctx: &TcpContext,
) -> Result<(mpsc::Sender<RoomInput>, Vec<u8>, mpsc::Receiver<Vec<u8>>), TcpError> {
    let first = tokio::time::timeout(FIRST_PACKET_TIMEOUT, read_packet(reader))
        .await
        .map_err(|_| TcpError::Silent)??
        .ok_or(TcpError::Silent)?;
    let ufrag = stun_username_target(&first)
        .ok_or(TcpError::Unclaimed)?
        .to_owned();
    let (reply, answer) = oneshot::channel();
    let find = RouteRequest::Find {
        ufrag: ufrag.clone(),
        reply,
    };
    ctx.routes
        .send(find)
        .await
        .map_err(|_| TcpError::RoomGone)?;
    let room = answer
        .await
        .map_err(|_| TcpError::RoomGone)?
        .ok_or(TcpError::Unclaimed)?;
    let (packets, outgoing) = mpsc::channel(OUTGOING);
    let link = Link::new(ufrag, remote, packets, ctx.stats.clone());
    room.send(RoomInput::Link(link))
        .await
        .map_err(|_| TcpError::RoomGone)?;
    Ok((room, first, outgoing))
}

/// Reads one RFC 4571 frame; `Ok(None)` when the stream ends between frames.
pub async fn read_packet<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Option<Vec<u8>>, TcpError> {
    let mut length = [0u8; 2];
    match reader.read_exact(&mut length).await {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(error) => return Err(error.into()),
    }
    let length = usize::from(u16::from_be_bytes(length));
    if length > MAX_PACKET {
        return Err(TcpError::TooLarge(length));
    }
    let mut packet = vec![0; length];
    reader.read_exact(&mut packet).await?;
    Ok(Some(packet))
}

/// Appends `packet` to `out` as an RFC 4571 frame. `packet` must be at most 65,535 bytes
/// ([`Link::send`] sees to it).
pub fn frame(packet: &[u8], out: &mut Vec<u8>) {
    let length = u16::try_from(packet.len()).expect("Link::send refuses longer packets");
    out.extend_from_slice(&length.to_be_bytes());
    out.extend_from_slice(packet);
}

/// Writes the room's packets until its [`Link`] is dropped (the peer left): those queued at
/// once go out in one write.
async fn write_packets<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut packets: mpsc::Receiver<Vec<u8>>,
    stats: &TcpStats,
) -> Result<(), TcpError> {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while let Some(packet) = packets.recv().await {
        batch.clear();
        let mut count = 1;
        let mut bytes = packet.len();
        frame(&packet, &mut batch);
        while batch.len() < WRITE_BATCH {
            let Ok(packet) = packets.try_recv() else {
                break;
            };
            count += 1;
            bytes += packet.len();
            frame(&packet, &mut batch);
        }
        writer.write_all(&batch).await?;
        stats.sent.fetch_add(count, Ordering::Relaxed);
        stats.sent_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }
    let _ = writer.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(mut wire: &[u8]) -> Vec<Result<Option<Vec<u8>>, String>> {
        let mut out = Vec::new();
        loop {
            let packet = read_packet(&mut wire).await.map_err(|e| e.to_string());
            let end = !matches!(packet, Ok(Some(_)));
            out.push(packet);
            if end {
                return out;
            }
        }
    }

    #[tokio::test]
    async fn frames_read_back_as_the_packets_written() {
        let packets: [&[u8]; 3] = [b"stun", b"", &[0x80; MAX_PACKET]];
        let mut wire = Vec::new();
        for packet in packets {
            frame(packet, &mut wire);
        }
        assert_eq!(&wire[..6], &[0, 4, b's', b't', b'u', b'n']);
        let read = read_all(&wire).await;
        let expected: Vec<_> = packets
            .iter()
            .map(|p| Ok(Some(p.to_vec())))
            .chain([Ok(None)])
            .collect();
        assert_eq!(read, expected);
    }

    #[tokio::test]
    async fn oversized_and_cut_frames_are_errors() {
        let too_long = (MAX_PACKET as u16 + 1).to_be_bytes();
        assert!(matches!(
            read_packet(&mut &too_long[..]).await,
            Err(TcpError::TooLarge(n)) if n == MAX_PACKET + 1
        ));
        // The stream ends inside a frame: an error, not a clean end.
        assert!(read_packet(&mut &[0, 4, b's'][..]).await.is_err());
        // A lone length byte is a cut stream too, read as the end.
        assert!(matches!(read_packet(&mut &[0][..]).await, Ok(None)));
    }

    #[tokio::test]
    async fn a_full_queue_drops_and_counts_and_a_closed_one_says_so() {
        let stats = Arc::new(TcpStats::default());
        let (packets, mut outgoing) = mpsc::channel(1);
        let link = Link::new(
            "u".into(),
            "127.0.0.1:1".parse().unwrap(),
            packets,
            stats.clone(),
        );
        link.send(vec![1]).unwrap();
        link.send(vec![2]).unwrap();
        assert_eq!(stats.unsent.load(Ordering::Relaxed), 1);
        assert_eq!(outgoing.recv().await, Some(vec![1]));
        drop(outgoing);
        assert!(link.send(vec![3]).is_err());
    }
}
