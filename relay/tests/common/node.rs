//! A relay node as its own process (the `veilig-relay` binary), so a test can kill it with
//! SIGKILL as a crash would, which an in-process relay cannot show.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// A running `veilig-relay` process; killed when dropped.
pub struct NodeProcess {
    child: Child,
    /// Its HTTP (and `/ws`) address.
    pub http: SocketAddr,
    /// Its media (UDP) address.
    pub udp: SocketAddr,
    /// Its `/metrics` address.
    pub metrics: SocketAddr,
}

impl NodeProcess {
    /// Starts a node on loopback with free ports, joined to `nats`.
    pub fn start(nats: &str) -> NodeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_veilig-relay"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--udp",
                "127.0.0.1:0",
                "--tcp",
                "off",
                "--public-ip",
                "127.0.0.1",
                "--metrics-listen",
                "127.0.0.1:0",
                "--nats",
                nats,
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("the relay binary starts");
        // "Veilig relay on http://ADDR (media on UDP ADDR)", then "Metrics on http://ADDR/metrics"
        let mut output = BufReader::new(child.stdout.take().expect("its output"));
        let mut line = String::new();
        output
            .read_line(&mut line)
            .expect("the relay says where it listens");
        let words: Vec<&str> = line.split_whitespace().collect();
        let http = words[3]
            .trim_start_matches("http://")
            .parse()
            .expect("HTTP address");
        let udp = words[7].trim_end_matches(')').parse().expect("UDP address");
        line.clear();
        output
            .read_line(&mut line)
            .expect("the relay says where its metrics are");
        let metrics = line
            .trim()
            .trim_start_matches("Metrics on http://")
            .trim_end_matches("/metrics")
            .parse()
            .expect("metrics address");
        NodeProcess {
            child,
            http,
            udp,
            metrics,
        }
    }

    /// Its signaling URL.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.http)
    }

    /// Resident memory (kB) and open file descriptors, from `/proc`.
    pub fn footprint(&self) -> (u64, usize) {
        let pid = self.child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let rss = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |dir| dir.count());
        (rss, fds)
    }

    /// SIGKILL: no goodbye, no drain.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
