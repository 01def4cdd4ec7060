//! A real coturn `turnserver` for one test: started by the test as a child process, its
//! configuration, database, pid file and log in a temporary directory (never the system's
//! service, nothing under /var), and killed when dropped.
//!
//! It checks credentials by the TURN REST API convention (`use-auth-secret`) with a random
//! secret of its own, which the test gives the relay (`turn_secret`): so the credentials the
//! relay hands the browsers are checked by coturn exactly as an operator's would. Plain TURN
//! over UDP and TCP only (TLS and DTLS would need a certificate and test nothing of ours), no
//! telnet CLI. Its peer and quota lines are read from `docs/operators.md`'s coturn
//! configuration itself ([`operator_lines`]), so the test runs what operators are told to run:
//! one peer only, the relay (every address denied, the relay's allowed: `allowed-peer-ip` wins),
//! and the guide's quotas. It relays
//! from [`RELAYED_PORTS`], a small range below Linux's ephemeral ports
//! (32768-60999), so a firewall rule can tell relayed traffic from a browser's own sockets.
//! The log is verbose: that is where a test sees allocations and permissions.
//!
//! Needs Debian's `coturn` package (`cargo xtask test` installs it) and a network namespace of
//! the test's own (`netns`), whose address it listens on.

use std::io::Read;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The ports coturn relays from: one allocation per browser (media is bundled), with room for
/// a few more (a re-gathering, a TCP candidate's allocation).
pub const RELAYED_PORTS: RangeInclusive<u16> = 24000..=24019;

/// The port coturn listens on for TURN, UDP and TCP (the standard one).
pub const PORT: u16 = 3478;

/// How long coturn may take to open its listeners.
const READY: Duration = Duration::from_secs(10);

/// Why coturn could not be started.
#[derive(Debug, thiserror::Error)]
pub enum CoturnError {
    /// `turnserver` is not installed.
    #[error("cannot run turnserver: {0} (install Debian's coturn; `cargo xtask test` does)")]
    NotInstalled(std::io::Error),
    /// Writing its files, or reading the random secret.
    #[error("preparing coturn: {0}")]
    Io(#[from] std::io::Error),
    /// It exited, or did not listen in time.
    #[error("coturn did not start: {reason}; its log:\n{log}")]
    NotReady {
        /// Exit status, or timed out.
        reason: String,
        /// What it logged.
        log: String,
    },
}

/// A running `turnserver`.
pub struct Coturn {
    child: Child,
    secret: String,
    log: PathBuf,
    /// Where it listens for TURN (UDP and TCP).
    pub addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Coturn {
    /// Starts coturn listening and relaying on `ip`, to `peer` only, and waits until it accepts
    /// connections.
    pub fn start(ip: IpAddr, peer: IpAddr) -> Result<Coturn, CoturnError> {
        let dir = tempfile::tempdir()?;
        let secret = random_hex()?;
        let log = dir.path().join("turnserver.log");
        let path = |name: &str| dir.path().join(name).display().to_string();
        let config = [
            format!("listening-ip={ip}"),
            format!("relay-ip={ip}"),
            format!("listening-port={PORT}"),
            format!("min-port={}", RELAYED_PORTS.start()),
            format!("max-port={}", RELAYED_PORTS.end()),
            "use-auth-secret".to_owned(),
            format!("static-auth-secret={secret}"),
            "realm=veilig.test".to_owned(),
        ]
        .into_iter()
        .chain(operator_lines(peer))
        .chain([
            "no-tls".to_owned(),
            "no-dtls".to_owned(),
            "no-cli".to_owned(),
            "verbose".to_owned(),
            "simple-log".to_owned(),
            format!("log-file={}", log.display()),
            format!("pidfile={}", path("turnserver.pid")),
            // Without it coturn opens /var/lib/turn/turndb, the system's.
            format!("userdb={}", path("turndb")),
        ])
        .collect::<Vec<_>>();
        let config_file = dir.path().join("turnserver.conf");
        std::fs::write(&config_file, config.join("\n") + "\n")?;
        let child = Command::new("turnserver")
            .arg("-c")
            .arg(&config_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(CoturnError::NotInstalled)?;
        let mut coturn = Coturn {
            child,
            secret,
            log,
            addr: SocketAddr::new(ip, PORT),
            _dir: dir,
        };
        coturn.wait_ready()?;
        Ok(coturn)
    }

    /// Polls its TCP listener until it accepts, or coturn exits, or [`READY`] passes.
    fn wait_ready(&mut self) -> Result<(), CoturnError> {
        let deadline = Instant::now() + READY;
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            let reason = match self.child.try_wait()? {
                Some(status) => format!("it exited: {status}"),
                None if Instant::now() >= deadline => format!("not listening after {READY:?}"),
                None => {
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            return Err(CoturnError::NotReady {
                reason,
                log: self.log(),
            });
        }
    }

    /// The shared secret, for the relay's `turn_secret`.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Its URI for TURN over UDP, for the relay's `turn_uri`.
    pub fn udp_uri(&self) -> String {
        format!("turn:{}?transport=udp", self.addr)
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Coturn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The operator guide, whose coturn configuration the test runs.
const OPERATORS_GUIDE: &str = include_str!("../../docs/operators.md");

/// The peer and quota lines of the guide's coturn configuration (the `ini` block with
/// `static-auth-secret`), with the relay's address `peer` in `allowed-peer-ip`. Panics if the
/// guide lost them: the test must not quietly run another configuration.
pub fn operator_lines(peer: IpAddr) -> Vec<String> {
    let block = OPERATORS_GUIDE
        .split("```ini\n")
        .skip(1)
        .filter_map(|rest| rest.split_once("```").map(|(block, _)| block))
        .find(|block| block.contains("static-auth-secret"))
        .expect("docs/operators.md has a coturn configuration");
    let wanted = [
        "denied-peer-ip",
        "allowed-peer-ip",
        "user-quota",
        "total-quota",
        "no-multicast-peers",
    ];
    let lines: Vec<String> = block
        .lines()
        .map(str::trim)
        .filter(|line| wanted.contains(&line.split('=').next().unwrap_or_default()))
        .map(|line| match line.split_once('=') {
            Some(("allowed-peer-ip", _)) => format!("allowed-peer-ip={peer}"),
            _ => line.to_owned(),
        })
        .collect();
    for key in wanted {
        assert!(
            lines.iter().any(|line| line.split('=').next() == Some(key)),
            "docs/operators.md's coturn configuration lacks {key}"
        );
    }
    lines
}

/// 32 random hex digits, from the kernel.
fn random_hex() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
