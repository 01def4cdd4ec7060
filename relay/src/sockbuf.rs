//! The media socket, opened with kernel buffers sized for a relay rather than for a desktop
//! program.
//!
//! One UDP socket carries every peer of every room ([`crate::udp`]), so its receive buffer is all
//! the slack the relay has while the router is busy (a burst of key frames, a core taken by
//! something else). The kernel's default (`net.core.rmem_default`, about 208 KB: a few
//! milliseconds of a busy relay's input) overflowed in the load benchmark and lost 7 % of the
//! frames at 10 per room, 57 % at eight rooms of 4, where Janus, with a socket per peer, lost
//! none. So the socket asks for `--udp-buffer` bytes (8 MiB by default) each way.
//!
//! A process may not normally ask for more than `net.core.rmem_max` / `wmem_max` (the kernel
//! caps it silently); with `CAP_NET_ADMIN` (root, or systemd's `AmbientCapabilities=`) the size
//! is forced past the cap (`SO_RCVBUFFORCE` / `SO_SNDBUFFORCE`, Linux). What the kernel granted
//! is logged, with a warning when it is less than was asked, and served in `/metrics`.
//!
//! What this does not do: change any sysctl, or read and write the socket.

use std::io;
use std::net::{SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

/// The sizes the kernel granted, as it reports them (Linux doubles what is asked, for its own
/// bookkeeping, and reports the doubled size).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Buffers {
    /// The receive buffer, in bytes.
    pub receive: usize,
    /// The send buffer, in bytes.
    pub send: usize,
    /// Whether the sizes were forced past the system's caps.
    pub forced: bool,
}

/// How much more than was asked the kernel reports for a buffer: Linux doubles the size for its
/// bookkeeping, so a granted size below twice the asked one was capped.
const REPORTED: usize = if cfg!(target_os = "linux") { 2 } else { 1 };

/// Binds a non-blocking UDP socket at `addr` with receive and send buffers of `wanted` bytes
/// each; `0` keeps the kernel's defaults. Returns the socket and what the kernel granted.
pub fn bind(addr: SocketAddr, wanted: usize) -> io::Result<(UdpSocket, Buffers)> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    let forced = wanted > 0 && size(&socket, wanted)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let buffers = Buffers {
        receive: socket.recv_buffer_size()?,
        send: socket.send_buffer_size()?,
        forced,
    };
    if wanted > 0 && buffers.receive.min(buffers.send) < REPORTED * wanted {
        tracing::warn!(
            wanted,
            receive = buffers.receive,
            send = buffers.send,
            "the UDP buffers are smaller than --udp-buffer: the kernel caps them at \
             net.core.rmem_max / wmem_max; raise those, or give the relay CAP_NET_ADMIN"
        );
    } else {
        tracing::info!(
            receive = buffers.receive,
            send = buffers.send,
            forced,
            "UDP buffers"
        );
    }
    Ok((socket.into(), buffers))
}

/// Asks for `wanted` bytes each way: forced if the process may, else within the caps. Returns
/// whether forcing worked.
fn size(socket: &Socket, wanted: usize) -> io::Result<bool> {
    if force(socket, wanted).is_ok() {
        return Ok(true);
    }
    socket.set_recv_buffer_size(wanted)?;
    socket.set_send_buffer_size(wanted)?;
    Ok(false)
}

#[cfg(target_os = "linux")]
fn force(socket: &Socket, wanted: usize) -> io::Result<()> {
    use rustix::net::sockopt;
    sockopt::set_socket_recv_buffer_size_force(socket, wanted)?;
    sockopt::set_socket_send_buffer_size_force(socket, wanted)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn force(_: &Socket, _: usize) -> io::Result<()> {
    Err(io::ErrorKind::Unsupported.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: &str = "127.0.0.1:0";

    /// The system's cap on what an unprivileged socket may ask for, from /proc.
    fn cap(name: &str) -> usize {
        std::fs::read_to_string(format!("/proc/sys/net/core/{name}"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(0)
    }

    #[test]
    fn grants_what_was_asked_or_the_system_cap() {
        let wanted = 4 << 20;
        let (socket, granted) = bind(LOOPBACK.parse().unwrap(), wanted).unwrap();
        assert!(socket.local_addr().unwrap().port() != 0);
        if granted.forced {
            let full = REPORTED * wanted;
            assert!(
                granted.receive >= full && granted.send >= full,
                "{granted:?}"
            );
        } else {
            // Without CAP_NET_ADMIN, the kernel caps the size (and doubles the capped size).
            assert!(
                granted.receive >= wanted.min(cap("rmem_max")),
                "{granted:?}"
            );
            assert!(granted.send >= wanted.min(cap("wmem_max")), "{granted:?}");
        }
    }

    #[test]
    fn zero_keeps_the_kernel_defaults() {
        let (_, granted) = bind(LOOPBACK.parse().unwrap(), 0).unwrap();
        assert!(!granted.forced);
        // Not doubled: the kernel doubles only what a program asks for.
        let default = cap("rmem_default");
        if default > 0 {
            assert_eq!(granted.receive, default);
        }
    }

    #[test]
    fn the_socket_is_non_blocking() {
        let (socket, _) = bind(LOOPBACK.parse().unwrap(), 1 << 20).unwrap();
        let mut buf = [0u8; 16];
        let error = socket.recv_from(&mut buf).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    }
}
