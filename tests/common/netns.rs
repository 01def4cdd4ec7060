//! Running a test inside a network namespace of its own, so that browsers and the relay do
//! WebRTC on a real (virtual) network interface.
//!
//! Why: Firefox never gathers loopback candidates, and Chromium only with a flag, so a call
//! between browsers and a relay on 127.0.0.1 cannot connect; and the test machine's own
//! network may be anything. Inside a fresh namespace there is a veth pair, 10.99.0.1 and
//! 10.99.0.2, with a default route (without one Firefox gathers nothing), and loopback. The
//! relay binds its media port to 10.99.0.1; HTTP stays on 127.0.0.1 (a secure context, so the
//! camera may be used).
//!
//! The test re-runs itself in the namespace: [`isolated`] returns `true` inside, where the
//! test goes on; outside it creates the namespace, runs the test binary there with just this
//! test, removes the namespace and returns `false` after asserting that the inner run passed
//! and ran exactly one test (a misspelt name would match none, and a run of none passes).
//! Needs iproute2, and root or passwordless `sudo` (CI runs as root).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// One isolated test at a time: each runs two or three browsers, which is what a 2-core
/// machine can take.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
static NEXT: AtomicU32 = AtomicU32::new(0);

const INSIDE: &str = "VEILIG_NETNS";

/// The address the relay's media socket uses inside the namespace.
pub const RELAY_IP: &str = "10.99.0.1";

/// The other end of the veth pair: free for something to stand between browsers and the relay
/// (the lossy forwarder and the TURN server of `tests/network.rs`).
pub const OTHER_IP: &str = "10.99.0.2";

/// `ip`, through `sudo -n` when not root.
fn ip_command() -> Command {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0");
    if root {
        Command::new("ip")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", "--preserve-env", "ip"]);
        sudo
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let status = ip_command()
        .args(args)
        .status()
        .map_err(|e| format!("cannot run `ip`: {e} (install iproute2)"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {status} (root needed)",
            args.join(" ")
        ))
    }
}

/// Removes the namespace when dropped, even if the test panics.
struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip_command().args(["netns", "del", &self.0]).status();
    }
}

/// Makes this namespace a network that blocks UDP, as some guest networks do: an nftables table
/// that drops every UDP packet sent or received here. Call it inside the namespace (it needs
/// root, which the test has there, and Debian's `nftables`); the rule goes with the namespace.
pub fn block_udp() -> Result<(), String> {
    nft("table inet veilig_test {
            chain input { type filter hook input priority 0; meta l4proto udp drop; }
            chain output { type filter hook output priority 0; meta l4proto udp drop; }
        }")
}

/// Loads nftables `rules` (the `nft -f` syntax) into this namespace's firewall; they go with
/// the namespace. Refused outside a test's namespace, where they would firewall the machine.
pub fn nft(rules: &str) -> Result<(), String> {
    assert!(
        std::env::var_os(INSIDE).is_some(),
        "nftables rules outside a test namespace would firewall the machine"
    );
    let mut nft = Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `nft`: {e} (install nftables)"))?;
    if let Some(mut stdin) = nft.stdin.take() {
        std::io::Write::write_all(&mut stdin, rules.as_bytes()).map_err(|e| e.to_string())?;
    }
    let status = nft.wait().map_err(|e| e.to_string())?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`nft` refused the rules: {status}\n{rules}"))
    }
}

/// The packets counted so far by the named counter `name` of inet table `table`.
pub fn nft_packets(table: &str, name: &str) -> Result<u64, String> {
    let out = Command::new("nft")
        .args(["list", "counter", "inet", table, name])
        .output()
        .map_err(|e| format!("cannot run `nft`: {e} (install nftables)"))?;
    let listing = String::from_utf8_lossy(&out.stdout);
    listing
        .split_whitespace()
        .skip_while(|word| *word != "packets")
        .nth(1)
        .and_then(|count| count.parse().ok())
        .ok_or_else(|| format!("no packet count for counter {name} in: {listing}"))
}

/// `true`: we are inside the namespace, run the test. `false`: the test ran (and passed) in a
/// child inside one; return.
pub fn isolated(test: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let name = format!(
        "veilig-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let ns = Namespace(name.clone());
    let setup = [
        vec!["netns", "add", &name],
        vec!["-n", &name, "link", "set", "lo", "up"],
        vec![
            "-n", &name, "link", "add", "v0", "type", "veth", "peer", "name", "v1",
        ],
        vec!["-n", &name, "addr", "add", "10.99.0.1/24", "dev", "v0"],
        vec!["-n", &name, "addr", "add", "10.99.0.2/24", "dev", "v1"],
        vec!["-n", &name, "link", "set", "v0", "up"],
        vec!["-n", &name, "link", "set", "v1", "up"],
        vec!["-n", &name, "route", "add", "default", "via", "10.99.0.2"],
    ];
    for args in &setup {
        if let Err(e) = ip(args) {
            panic!("setting up the test network: {e}");
        }
    }
    let exe = std::env::current_exe().expect("the test binary");
    let mut child = ip_command()
        .args(["netns", "exec", &name])
        .arg(exe)
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(INSIDE, &name)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running the test in its namespace");
    let passed = pass_on_counting_passes(child.stdout.take().expect("the child's output"));
    let status = child.wait().expect("running the test in its namespace");
    drop(ns);
    assert!(
        status.success(),
        "{test} failed inside its network namespace"
    );
    assert_eq!(
        passed,
        Some(1),
        "{test} inside its network namespace: expected exactly one test to pass (is the name \
         given to `isolated` the test's own?)"
    );
    false
}

/// Copies the test harness's output through as it comes (a browser test runs for minutes) and
/// returns the count in its closing "test result: ok. N passed" line.
fn pass_on_counting_passes(output: impl std::io::Read) -> Option<u32> {
    use std::io::{BufRead, Write};

    let mut passed = None;
    // Read to the end whatever comes, so the child never blocks on a full pipe.
    for line in std::io::BufReader::new(output).split(b'\n') {
        let Ok(line) = line else { break };
        let line = String::from_utf8_lossy(&line);
        let _ = writeln!(std::io::stdout(), "{line}");
        if let Some(rest) = line.strip_prefix("test result: ok. ") {
            passed = rest.split(' ').next().and_then(|n| n.parse().ok());
        }
    }
    passed
}
