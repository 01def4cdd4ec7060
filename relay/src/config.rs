//! Every setting of the relay, from flags or environment variables (`--help` lists them all).
//!
//! Defaults suit a developer on one machine: HTTP on `127.0.0.1:8080`, media on one UDP port
//! (10000) shared by every peer, advertised at the machine's first non-loopback IPv4 address so
//! that browsers on the same machine or network can reach it. ICE-TCP, the fallback for networks
//! that block UDP, is on by default at the UDP address (TCP port 10000): it costs nothing until a
//! browser needs it, and browsers prefer UDP whenever it works; `--tcp off` turns it off. Plain HTTP is the default (loopback
//! development, or behind a reverse proxy that does TLS); `--tls-cert` with `--tls-key` makes
//! the relay serve HTTPS itself. Operator metrics are off unless `--metrics-listen` is given.
//!
//! Per-address caps ([`crate::limits`]) default to what a busy office behind one NAT needs and
//! an attacker on one host cannot use to crowd others out: 64 signaling connections and 120
//! joins a minute (a whole office joining at the hour, plus reconnects), 16 ICE-TCP connections
//! waiting for their first packet (a browser opens one per local interface, at most 4 per
//! participant; the relay has 256 such slots in all), 32 TLS handshakes in progress (a page load
//! opens a handful of connections; handshakes take milliseconds).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use clap::Parser;

use crate::limits::Caps;
use crate::tls::{TlsError, TlsFiles};
use crate::turn::{TurnError, TurnIssuer, TurnSecret};

/// Veilig relay: serves the app, relays signaling, forwards encrypted media. It never holds a
/// key: media, chat and names stay end-to-end encrypted between browsers.
#[derive(Clone, Debug, Parser)]
#[command(name = "veilig-relay", version, about, long_about = None)]
pub struct Config {
    /// HTTP address for the app, WebSocket signaling (/ws) and the health check (/healthz).
    /// HTTPS with --tls-cert and --tls-key.
    #[arg(long, env = "VEILIG_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// PEM certificate chain, leaf first (e.g. certbot's fullchain.pem). With --tls-key the relay
    /// serves HTTPS (and WebSocket over TLS) itself and sends HSTS. Re-read on SIGHUP.
    #[arg(long, env = "VEILIG_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert (e.g. certbot's privkey.pem). Re-read on SIGHUP.
    #[arg(long, env = "VEILIG_TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Serve Prometheus metrics (/metrics: counts only, never ids or addresses) on this address,
    /// e.g. 127.0.0.1:9090. Off by default; never served on --listen.
    #[arg(long, env = "VEILIG_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,

    /// UDP address for all media (one port, multiplexed by ICE username).
    #[arg(long, env = "VEILIG_UDP", default_value = "0.0.0.0:10000")]
    pub udp: SocketAddr,

    /// Kernel receive and send buffer of the UDP media socket, in bytes: what the relay can
    /// absorb while it is busy before the kernel drops datagrams. Forced past the system's cap
    /// (net.core.rmem_max) when the relay has CAP_NET_ADMIN; 0 keeps the kernel's default.
    #[arg(long, env = "VEILIG_UDP_BUFFER", default_value_t = 8 << 20)]
    pub udp_buffer: usize,

    /// TCP address for ICE-TCP, the media fallback for networks that block UDP (a passive
    /// candidate, RFC 6544), or `off`. Default: the --udp address (same port number, over TCP).
    #[arg(long, env = "VEILIG_TCP", value_name = "ADDR|off")]
    pub tcp: Option<TcpListen>,

    /// IP address put in ICE candidates: the address browsers send media to. Default: the UDP
    /// address if it is specific, else this machine's first non-loopback IPv4 address.
    #[arg(long, env = "VEILIG_PUBLIC_IP")]
    pub public_ip: Option<IpAddr>,

    /// Origins allowed to embed the app in an iframe (CSP frame-ancestors), e.g.
    /// `https://portal.example`. Repeat or comma-separate. Default: none.
    #[arg(long, env = "VEILIG_FRAME_ANCESTORS", value_delimiter = ',')]
    pub frame_ancestors: Vec<String>,

    /// Other origins whose pages may open signaling WebSockets (/ws), e.g.
    /// `https://app.example` when the app is served from another origin than the relay. The
    /// relay's own origin (the request's Host, http or https) and the --frame-ancestors origins
    /// are always allowed; any other Origin gets HTTP 403. Repeat or comma-separate.
    #[arg(long, env = "VEILIG_ALLOW_ORIGIN", value_delimiter = ',')]
    pub allow_origin: Vec<String>,

    /// Serve the app from this directory instead of the copy built into the binary.
    #[arg(long, env = "VEILIG_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,

    /// Most rooms at once.
    #[arg(long, env = "VEILIG_MAX_ROOMS", default_value_t = 1000)]
    pub max_rooms: usize,

    /// Most participants in one room.
    #[arg(long, env = "VEILIG_MAX_PARTICIPANTS", default_value_t = 25)]
    pub max_participants: usize,

    /// Signaling messages a connection may send per second, sustained.
    #[arg(long, env = "VEILIG_MESSAGES_PER_SECOND", default_value_t = 20)]
    pub messages_per_second: u32,

    /// Signaling messages a connection may send in a burst.
    #[arg(long, env = "VEILIG_MESSAGE_BURST", default_value_t = 60)]
    pub message_burst: u32,

    /// Close a signaling connection that sends nothing for this many seconds (browsers ping
    /// every 15 s).
    #[arg(long, env = "VEILIG_IDLE_TIMEOUT_SECS", default_value_t = 45)]
    pub idle_timeout_secs: u64,

    /// Close a connection that has not joined a room this many seconds after connecting.
    #[arg(long, env = "VEILIG_JOIN_TIMEOUT_SECS", default_value_t = 10)]
    pub join_timeout_secs: u64,

    /// Signaling WebSockets one address (an IPv4 address, or an IPv6 /64) may hold open at once;
    /// more get HTTP 429. 0: no cap (behind a reverse proxy every client has its address).
    #[arg(long, env = "VEILIG_MAX_WEBSOCKETS_PER_ADDRESS", default_value_t = 64)]
    pub max_websockets_per_address: u32,

    /// Joins (signaling WebSockets opened) one address may make per minute, as a burst refilled
    /// over the minute; more get HTTP 429. 0: no cap.
    #[arg(
        long,
        env = "VEILIG_JOINS_PER_MINUTE_PER_ADDRESS",
        default_value_t = 120
    )]
    pub joins_per_minute_per_address: u32,

    /// ICE-TCP connections one address may have waiting for their first packet; more are
    /// closed at once. 0: no cap.
    #[arg(
        long,
        env = "VEILIG_MAX_WAITING_ICE_TCP_PER_ADDRESS",
        default_value_t = 16
    )]
    pub max_waiting_ice_tcp_per_address: u32,

    /// TLS handshakes one address may have in progress at once; more are closed at once. 0: no
    /// cap.
    #[arg(
        long,
        env = "VEILIG_MAX_TLS_HANDSHAKES_PER_ADDRESS",
        default_value_t = 32
    )]
    pub max_tls_handshakes_per_address: u32,

    /// TURN server URI handed to browsers with time-limited credentials, e.g.
    /// `turns:turn.example.org:443?transport=tcp`. Repeat or comma-separate. Needs
    /// --turn-secret or --turn-secret-file. Default: none (no TURN).
    #[arg(long, env = "VEILIG_TURN_URI", value_delimiter = ',')]
    pub turn_uri: Vec<String>,

    /// The secret shared with the TURN server (coturn's static-auth-secret). Prefer
    /// --turn-secret-file: a command line is visible to every local user.
    #[arg(long, env = "VEILIG_TURN_SECRET", hide_env_values = true)]
    pub turn_secret: Option<TurnSecret>,

    /// File holding the TURN secret (trailing newline ignored), e.g. a systemd credential.
    #[arg(long, env = "VEILIG_TURN_SECRET_FILE")]
    pub turn_secret_file: Option<PathBuf>,

    /// How long TURN credentials stay valid, in seconds (the TURN server refuses them after).
    /// Short by default: coturn checks the expiry when an allocation is made, not while it lasts,
    /// so a call carries on past it, and every rejoin brings fresh credentials; a copied
    /// credential is useless soon after.
    #[arg(long, env = "VEILIG_TURN_TTL_SECS", default_value_t = 10 * 60)]
    pub turn_ttl_secs: u64,

    /// Make this relay a node of a cluster through NATS (e.g. `nats://10.0.0.5:4222`; needs
    /// JetStream, `nats-server -js`): rooms are placed on nodes by load and signaling is
    /// carried to the room's node. Without it, the relay runs alone.
    #[arg(long, env = "VEILIG_NATS")]
    pub nats: Option<String>,

    /// Test-only: append every forwarded media payload to this file as JSON lines.
    #[cfg(feature = "payload-tap")]
    #[arg(long, env = "VEILIG_PAYLOAD_TAP")]
    pub payload_tap: Option<PathBuf>,
}

/// The `--tcp` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpListen {
    /// No ICE-TCP.
    Off,
    /// Listen here.
    At(SocketAddr),
}

/// A `--tcp` value that is neither an address nor `off`.
#[derive(Debug, thiserror::Error)]
#[error("expected an address such as 0.0.0.0:10000, or off")]
pub struct BadTcpListen;

impl FromStr for TcpListen {
    type Err = BadTcpListen;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.eq_ignore_ascii_case("off") {
            return Ok(TcpListen::Off);
        }
        value.parse().map(TcpListen::At).map_err(|_| BadTcpListen)
    }
}

impl Config {
    /// The settings with every default, as `veilig-relay` with no flags (and no environment).
    pub fn defaults() -> Self {
        Config::parse_from(["veilig-relay"])
    }

    /// The certificate and key files, if HTTPS is asked for; an error if only one is given.
    pub fn tls_files(&self) -> Result<Option<TlsFiles>, TlsError> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some(TlsFiles {
                cert: cert.clone(),
                key: key.clone(),
            })),
            (None, None) => Ok(None),
            _ => Err(TlsError::Incomplete),
        }
    }

    /// The TURN credential issuer, if TURN is configured; an error if half of it is, or the
    /// secret file cannot be read.
    pub fn turn_issuer(&self) -> Result<Option<TurnIssuer>, TurnError> {
        let secret = match (&self.turn_secret, &self.turn_secret_file) {
            (Some(_), Some(_)) => return Err(TurnError::TwoSecrets),
            (Some(secret), None) => Some(secret.clone()),
            (None, Some(path)) => Some(TurnSecret::read(path)?),
            (None, None) => None,
        };
        match (secret, self.turn_uri.is_empty()) {
            (None, true) => Ok(None),
            (Some(secret), false) => {
                let ttl = Duration::from_secs(self.turn_ttl_secs);
                TurnIssuer::new(self.turn_uri.clone(), &secret, ttl).map(Some)
            }
            _ => Err(TurnError::Incomplete),
        }
    }

    /// Where ICE-TCP listens, if it does.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        match self.tcp {
            None => Some(self.udp),
            Some(TcpListen::At(addr)) => Some(addr),
            Some(TcpListen::Off) => None,
        }
    }

    /// The per-address caps.
    pub fn address_caps(&self) -> Caps {
        Caps {
            websockets: self.max_websockets_per_address,
            joins_per_minute: self.joins_per_minute_per_address,
            ice_tcp_waiting: self.max_waiting_ice_tcp_per_address,
            tls_handshakes: self.max_tls_handshakes_per_address,
        }
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.idle_timeout_secs)
    }

    /// The join timeout.
    pub fn join_timeout(&self) -> Duration {
        Duration::from_secs(self.join_timeout_secs)
    }

    /// The IP put into ICE candidates.
    pub fn candidate_ip(&self) -> IpAddr {
        if let Some(ip) = self.public_ip {
            return ip;
        }
        if !self.udp.ip().is_unspecified() {
            return self.udp.ip();
        }
        if_addrs::get_if_addrs()
            .ok()
            .and_then(|interfaces| {
                interfaces
                    .into_iter()
                    .map(|interface| interface.ip())
                    .find(|ip| ip.is_ipv4() && !ip.is_loopback())
            })
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_files(flags: &[&str]) -> Result<Option<TlsFiles>, TlsError> {
        let args = ["veilig-relay"].iter().chain(flags);
        Config::try_parse_from(args).unwrap().tls_files()
    }

    #[test]
    fn tls_needs_both_files_or_neither() {
        assert_eq!(tls_files(&[]).unwrap(), None);
        let both = tls_files(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        assert_eq!(
            both,
            Some(TlsFiles {
                cert: "c.pem".into(),
                key: "k.pem".into()
            })
        );
        for one in [["--tls-cert", "c.pem"], ["--tls-key", "k.pem"]] {
            let error = tls_files(&one).unwrap_err();
            assert!(matches!(error, TlsError::Incomplete));
            let message = error.to_string();
            assert!(message.contains("--tls-cert") && message.contains("--tls-key"));
        }
    }

    #[test]
    fn ice_tcp_follows_the_udp_address_unless_set_or_off() {
        let tcp = |flags: &[&str]| {
            let args = ["veilig-relay"].iter().chain(flags);
            Config::try_parse_from(args).map(|config| config.tcp_addr())
        };
        assert_eq!(tcp(&[]).unwrap(), Some("0.0.0.0:10000".parse().unwrap()));
        let udp = tcp(&["--udp", "192.0.2.1:3478"]).unwrap();
        assert_eq!(udp, Some("192.0.2.1:3478".parse().unwrap()));
        let own = tcp(&["--tcp", "0.0.0.0:443"]).unwrap();
        assert_eq!(own, Some("0.0.0.0:443".parse().unwrap()));
        assert_eq!(tcp(&["--tcp", "off"]).unwrap(), None);
        assert_eq!(tcp(&["--tcp", "OFF"]).unwrap(), None);
        assert!(tcp(&["--tcp", "sometimes"]).is_err());
    }

    #[test]
    fn metrics_are_off_by_default() {
        assert_eq!(Config::defaults().metrics_listen, None);
    }
}
