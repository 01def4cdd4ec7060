//! A slow, lossy UDP path of the test's own, put between browsers and the relay's media port:
//! the kernel's `tc netem` is not available on the test machines.
//!
//! ```text
//!  browser ─► listening socket ─► [to the relay: drop? then delay] ─► a socket per browser ─► relay
//!  browser ◄─ listening socket ◄─ [from the relay: drop? then delay] ◄─ a socket per browser ◄─ relay
//! ```
//! Each browser address gets a socket of its own toward the relay, so the relay still sees one
//! address per browser (as behind a NAT). Every packet of a direction passes through that
//! direction's one task, which decides drops with a [`LossPattern`] seeded by the test: the same
//! packets, in the same order, lose the same ones on every run.
//!
//! What this does not do: reorder, jitter, duplicate, limit bandwidth, or forget idle browsers.
//! The delay is one constant, so packets leave in the order they came.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;

/// What one direction of the path does to packets.
#[derive(Clone, Copy, Debug)]
pub struct Impairment {
    /// How long each packet is held.
    pub delay: Duration,
    /// The share of packets dropped, 0 to 1.
    pub loss: f64,
    /// Seeds the drops, so that a run can be repeated.
    pub seed: u64,
}

impl Impairment {
    /// Passes everything at once: the clean path to compare with.
    pub const NONE: Impairment = Impairment {
        delay: Duration::ZERO,
        loss: 0.0,
        seed: 0,
    };
}

/// Which packets a direction drops: a seeded SplitMix64 generator, one draw per packet.
#[derive(Clone, Debug)]
pub struct LossPattern {
    state: u64,
    loss: f64,
}

impl LossPattern {
    pub fn new(impairment: &Impairment) -> LossPattern {
        LossPattern {
            state: impairment.seed,
            loss: impairment.loss,
        }
    }

    /// Whether the next packet is dropped.
    pub fn drops_next(&mut self) -> bool {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top 53 bits as a number in [0, 1).
        let uniform = (z >> 11) as f64 / (1u64 << 53) as f64;
        uniform < self.loss
    }
}

/// What happened to one direction's packets so far.
#[derive(Debug, Default)]
pub struct PathCounts {
    /// Packets passed on.
    pub forwarded: AtomicU64,
    /// Packets dropped on purpose.
    pub dropped: AtomicU64,
}

impl PathCounts {
    pub fn forwarded(&self) -> u64 {
        self.forwarded.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// A packet on its way: when it arrived, the socket it leaves by, and where to.
struct InFlight {
    arrived: Instant,
    via: Arc<UdpSocket>,
    to: SocketAddr,
    bytes: Vec<u8>,
}

/// A running forwarder; dropping it stops it.
pub struct LossyForwarder {
    /// Where browsers send: the address to advertise in place of the relay's.
    pub addr: SocketAddr,
    /// Toward the relay.
    pub to_relay: Arc<PathCounts>,
    /// Back from the relay.
    pub from_relay: Arc<PathCounts>,
    tasks: Vec<JoinHandle<()>>,
}

impl LossyForwarder {
    /// Listens on `listen` and forwards to `relay`, impairing each direction as given. Sockets
    /// toward the relay are bound to `listen`'s IP address.
    pub async fn start(
        listen: SocketAddr,
        relay: SocketAddr,
        to_relay: Impairment,
        from_relay: Impairment,
    ) -> std::io::Result<LossyForwarder> {
        let socket = Arc::new(UdpSocket::bind(listen).await?);
        let addr = socket.local_addr()?;
        let (up, up_counts) = DelayLine::spawn(to_relay);
        let (down, down_counts) = DelayLine::spawn(from_relay);
        let main = tokio::spawn(accept(socket, relay, up.queue.clone(), down.queue.clone()));
        Ok(LossyForwarder {
            addr,
            to_relay: up_counts,
            from_relay: down_counts,
            tasks: vec![main, up.task, down.task],
        })
    }
}

impl Drop for LossyForwarder {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One direction: drops, then holds the rest for the delay, in arrival order.
struct DelayLine {
    queue: mpsc::UnboundedSender<InFlight>,
    task: JoinHandle<()>,
}

impl DelayLine {
    fn spawn(impairment: Impairment) -> (DelayLine, Arc<PathCounts>) {
        let (queue, mut packets) = mpsc::unbounded_channel::<InFlight>();
        let counts = Arc::new(PathCounts::default());
        let mut pattern = LossPattern::new(&impairment);
        let tally = counts.clone();
        let task = tokio::spawn(async move {
            while let Some(packet) = packets.recv().await {
                if pattern.drops_next() {
                    tally.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                tokio::time::sleep_until(packet.arrived + impairment.delay).await;
                // A send that fails is a lost packet too, as on a real path.
                if packet.via.send_to(&packet.bytes, packet.to).await.is_ok() {
                    tally.forwarded.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        (DelayLine { queue, task }, counts)
    }
}

/// Reads from browsers; gives each new one its own socket toward the relay, and a task that
/// reads the relay's answers on it.
async fn accept(
    socket: Arc<UdpSocket>,
    relay: SocketAddr,
    up: mpsc::UnboundedSender<InFlight>,
    down: mpsc::UnboundedSender<InFlight>,
) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let mut toward_relay: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    // Dropped (and so aborted) with this task.
    let mut readers = JoinSet::new();
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((len, browser)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let arrived = Instant::now();
        let via = match toward_relay.get(&browser) {
            Some(via) => via.clone(),
            None => {
                let Ok(via) = UdpSocket::bind(SocketAddr::new(local.ip(), 0))
                    .await
                    .map(Arc::new)
                else {
                    continue;
                };
                readers.spawn(answers(
                    via.clone(),
                    relay,
                    socket.clone(),
                    browser,
                    down.clone(),
                ));
                toward_relay.insert(browser, via.clone());
                via
            }
        };
        let bytes = buf[..len].to_vec();
        let _ = up.send(InFlight {
            arrived,
            via,
            to: relay,
            bytes,
        });
    }
}

/// The relay's packets for `browser`, queued to go back through the listening socket.
async fn answers(
    from: Arc<UdpSocket>,
    relay: SocketAddr,
    back: Arc<UdpSocket>,
    browser: SocketAddr,
    down: mpsc::UnboundedSender<InFlight>,
) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((len, sender)) = from.recv_from(&mut buf).await else {
            continue;
        };
        if sender != relay {
            continue;
        }
        let packet = InFlight {
            arrived: Instant::now(),
            via: back.clone(),
            to: browser,
            bytes: buf[..len].to_vec(),
        };
        if down.send(packet).is_err() {
            return;
        }
    }
}
