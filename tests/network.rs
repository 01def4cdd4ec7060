//! Calls on hard networks, in real browsers: Chromium and Firefox meet through the real relay
//! (in-process, in the test's network namespace, see `common/netns.rs`)
//!
//! - over `https://`, with a certificate made by the test, on a network whose firewall drops
//!   every UDP packet: media goes over ICE-TCP, and only there;
//! - over UDP through a path of the test's own that holds every packet 100 ms and drops 2 %
//!   each way (`common/lossy_udp.rs`, since `tc netem` is not available): video keeps decoding,
//!   and the browsers' statistics show the loss and their requests to resend (NACKs);
//! - through a real coturn TURN server (`common/coturn.rs`), on a network whose firewall lets
//!   media reach the relay only from coturn's relayed ports: the browsers use the credentials
//!   the relay hands out, and say their media goes through TURN.
//!
//! `bench_decoded_fps_clean_vs_lossy` (run by `cargo xtask bench-browser`, skipped by
//! `cargo xtask test`) measures what the loss costs: the decoded frame rate on the same path,
//! clean and lossy.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use common::app::*;
use common::coturn::{self, Coturn};
use common::lossy_udp::{Impairment, LossyForwarder};
use common::{netns, Browser, Extra, HarnessError, Media, Session};
use rcgen::PublicKeyData;
use serde_json::json;
use sha2::{Digest, Sha256};
use veilig_relay::config::TcpListen;
use veilig_relay::Relay;

/// A self-signed certificate for 127.0.0.1, made for the test, in files the relay reads.
struct TestCert {
    cert: PathBuf,
    key: PathBuf,
    /// Base64 of the SHA-256 of the key's SubjectPublicKeyInfo: what Chromium's
    /// `--ignore-certificate-errors-spki-list` takes.
    spki_sha256: String,
    _dir: tempfile::TempDir,
}

impl TestCert {
    fn new() -> TestCert {
        let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()])
            .expect("rcgen makes a certificate");
        let dir = tempfile::tempdir().expect("a directory for the certificate");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, pem("CERTIFICATE", made.cert.der())).unwrap();
        std::fs::write(&key, pem("PRIVATE KEY", &made.signing_key.serialize_der())).unwrap();
        let spki = made.signing_key.subject_public_key_info();
        TestCert {
            cert,
            key,
            spki_sha256: Base64::encode_string(&Sha256::digest(&spki)),
            _dir: dir,
        }
    }
}

/// PEM armour: base64 in 64-column lines between BEGIN and END.
fn pem(label: &str, der: &[u8]) -> String {
    let body = Base64::encode_string(der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(Ordering::Relaxed)
}

/// Anna (the first session) starts a meeting at `base`, Bram joins by its link; both see each
/// other's video play on steadily, and hear each other.
async fn meet(anna: &Session, bram: &Session, base: &str) -> Result<(), HarnessError> {
    let link = new_meeting(anna, base, false).await?;
    join_as(anna, "Anna").await?;
    bram.goto(&link).await?;
    join_as(bram, "Bram").await?;
    wait_until(anna, "Bram's video", &sees_video_of("Bram")).await?;
    wait_until(bram, "Anna's video", &sees_video_of("Anna")).await?;
    keeps_playing(anna, Some("Bram")).await?;
    keeps_playing(bram, Some("Anna")).await?;
    hears(anna).await?;
    hears(bram).await
}

/// A JavaScript expression: the number in data attribute `field` (camelCase) of `name`'s
/// remote tile, 0 while there is none.
fn tile_value(name: &str, field: &str) -> String {
    format!("Number({}?.dataset.{field} ?? 0)", tile_of(name))
}

async fn call_over_https(
    anna: &Session,
    bram: &Session,
    base: &str,
    relay: &Relay,
) -> Result<(), HarnessError> {
    meet(anna, bram, base).await?;
    for session in [anna, bram] {
        let page = eval(
            session,
            "return [location.protocol, window.isSecureContext];",
        )
        .await?;
        ensure!(
            page == json!(["https:", true]),
            "{}: not a secure https page: {page}",
            session.browser().name()
        );
    }
    // Media, not only ICE checks, went over ICE-TCP, both ways: packets of media size (video
    // RTP, over 400 bytes; STUN checks are about 100) counted by the firewall on the relay's TCP
    // port, as the TURN test counts its relayed packets. (UDP routed none: that is the
    // firewall's own doing, reported but no evidence.)
    let counter = |name| netns::nft_packets(TCP_MEDIA, name).map_err(HarnessError::Check);
    let (to_relay, from_relay) = (counter("to_relay")?, counter("from_relay")?);
    let routed = load(&relay.udp_stats.routed);
    println!(
        "ICE-TCP: media-sized packets to the relay {to_relay}, from it {from_relay}; \
         UDP routed {routed}"
    );
    ensure!(
        to_relay > 100 && from_relay > 100 && routed == 0,
        "media not over ICE-TCP only: media-sized TCP packets to the relay {to_relay}, from it \
         {from_relay}; UDP routed {routed}"
    );
    Ok(())
}

/// The nftables table of [`a_call_over_https_works_with_udp_blocked`]: media-sized packets to
/// and from the relay's ICE-TCP port.
const TCP_MEDIA: &str = "veilig_tcp_media";

fn tcp_media_rules(port: u16) -> String {
    format!(
        "table inet {TCP_MEDIA} {{
            counter to_relay {{}}
            counter from_relay {{}}
            chain output {{
                type filter hook output priority 0;
                tcp dport {port} meta length > 400 counter name to_relay;
                tcp sport {port} meta length > 400 counter name from_relay;
            }}
        }}"
    )
}

/// HTTPS and a network without UDP, together, as a school's guest network may be. The relay
/// serves TLS with a certificate made here; Chromium trusts exactly that key
/// (`--ignore-certificate-errors-spki-list`). Firefox gets WebDriver's `acceptInsecureCerts`:
/// a profile that trusts one certificate needs NSS's `certutil` (another package) or a
/// hand-written `cert_override.txt`, whose format changes between Firefox versions; the
/// capability is what geckodriver supports for this. Either way the page is `https:`, a secure
/// context, and signaling runs over `wss://`.
///
/// nftables drops all UDP in the namespace, so the browsers reach the relay only through its
/// passive ICE-TCP candidate; the firewall counts over 100 media-sized TCP packets each way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers, root and nftables: run `cargo xtask test`"]
async fn a_call_over_https_works_with_udp_blocked() {
    if !netns::isolated("a_call_over_https_works_with_udp_blocked") {
        return;
    }
    netns::block_udp().unwrap_or_else(|e| panic!("{e}"));
    let cert = TestCert::new();
    let relay = start_relay_with(None, |config| {
        config.tls_cert = Some(cert.cert.clone());
        config.tls_key = Some(cert.key.clone());
    })
    .await;
    let tcp = relay.tcp_addr.expect("the relay listens for ICE-TCP");
    netns::nft(&tcp_media_rules(tcp.port())).unwrap_or_else(|e| panic!("{e}"));
    let base = format!("https://127.0.0.1:{}/", relay.http_addr.port());
    let trust_the_key = Extra {
        args: vec![format!(
            "--ignore-certificate-errors-spki-list={}",
            cert.spki_sha256
        )],
        ..Extra::default()
    };
    let anna = Session::start_extra(Browser::Chromium, Media::Fake, &trust_the_key)
        .await
        .unwrap_or_else(|e| panic!("starting Chromium: {e}"));
    let accept_it = Extra {
        capabilities: [("acceptInsecureCerts".to_owned(), json!(true))]
            .into_iter()
            .collect(),
        ..Extra::default()
    };
    let bram = Session::start_extra(Browser::Firefox, Media::Fake, &accept_it)
        .await
        .unwrap_or_else(|e| panic!("starting Firefox: {e}"));
    let outcome = call_over_https(&anna, &bram, &base, &relay).await;
    let context = format!("relay at {base}");
    finish_pair("https_without_udp", anna, bram, outcome, &context).await;
    relay.shut_down().await;
}

/// 100 ms one way and 2 % loss, each way: a poor mobile or long-distance path.
fn lossy(seed: u64) -> Impairment {
    Impairment {
        delay: Duration::from_millis(100),
        loss: 0.02,
        seed,
    }
}

/// The relay without ICE-TCP, reachable only through a forwarder impairing each direction.
/// The forwarder listens on the other address of the namespace at the relay's own port
/// number, and the relay advertises that address (`public_ip`) in its candidate: so the
/// browsers send all media through it, with no relay setting added for the test.
async fn relay_behind(
    to_relay: Impairment,
    from_relay: Impairment,
) -> (Relay, LossyForwarder, String) {
    let other: IpAddr = netns::OTHER_IP.parse().unwrap();
    let relay = start_relay_with(None, |config| {
        config.tcp = Some(TcpListen::Off);
        config.public_ip = Some(other);
    })
    .await;
    let listen = SocketAddr::new(other, relay.udp_addr.port());
    let path = LossyForwarder::start(listen, relay.udp_addr, to_relay, from_relay)
        .await
        .expect("starting the forwarder");
    let base = format!("http://{}/", relay.http_addr);
    (relay, path, base)
}

async fn call_over_a_lossy_path(
    anna: &Session,
    bram: &Session,
    base: &str,
    path: &LossyForwarder,
) -> Result<(), HarnessError> {
    meet(anna, bram, base).await?;
    for (session, other) in [(anna, "Bram"), (bram, "Anna")] {
        let name = session.browser().name();
        // Video keeps decoding: 50 more frames (the fake cameras send about 30 a second; a
        // stream stuck waiting for a key frame would not get there). And the browser saw
        // packets go missing on the way from the relay and asked for them again (NACKs). A
        // failed wait reports the tile's figures.
        let (frames, nacks, lost) = (
            tile_value(other, "framesDecoded"),
            tile_value(other, "nacksSent"),
            tile_value(other, "packetsLost"),
        );
        let decoded = eval(session, &format!("return {frames};")).await?;
        let target = decoded.as_f64().unwrap_or(0.0) + 50.0;
        wait_until_within(
            session,
            "50 more decoded frames, and NACKs for lost packets",
            &format!("return {frames} >= {target} && {nacks} > 0;"),
            Duration::from_secs(15),
        )
        .await?;
        let figures = eval(session, &format!("return [{nacks}, {lost}];")).await?;
        println!("{name} receiving {other}: [NACKs sent, packets lost] {figures}");
    }
    let (up, down) = (&path.to_relay, &path.from_relay);
    println!(
        "forwarder: to the relay {} passed, {} dropped; back {} passed, {} dropped",
        up.forwarded(),
        up.dropped(),
        down.forwarded(),
        down.dropped()
    );
    ensure!(
        up.dropped() > 0 && down.dropped() > 0,
        "the forwarder dropped nothing: media bypassed it?"
    );
    Ok(())
}

/// Through 100 ms of delay and 2 % loss each way (seeded, so the drops repeat), Chromium and
/// Firefox still see and hear each other, video keeps decoding on both sides, and their
/// statistics show the loss and the NACKs that asked for it again. ICE-TCP is off, so media
/// cannot go around the forwarder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers and root: run `cargo xtask test`"]
async fn video_keeps_decoding_over_a_slow_lossy_path() {
    if !netns::isolated("video_keeps_decoding_over_a_slow_lossy_path") {
        return;
    }
    let (relay, path, base) = relay_behind(lossy(1), lossy(2)).await;
    let (anna, bram) = chromium_and_firefox().await;
    let outcome = call_over_a_lossy_path(&anna, &bram, &base, &path).await;
    finish_pair(
        "lossy_path",
        anna,
        bram,
        outcome,
        &format!("relay at {base}"),
    )
    .await;
    drop(path);
    relay.shut_down().await;
}

/// The nftables table of [`a_call_through_coturn_works_when_nothing_else_gets_through`]: media
/// reaches the relay's UDP port only from coturn's relayed ports (counted in `via_turn`); every
/// other packet to it, and every ICE-TCP connection attempt, is dropped (counted in `direct`).
const TURN_ONLY: &str = "veilig_turn_only";

fn turn_only_rules(relay: &Relay) -> String {
    let (relay_ip, udp) = (relay.udp_addr.ip(), relay.udp_addr.port());
    let tcp = relay.tcp_addr.map_or(String::new(), |tcp| {
        format!(
            "ip daddr {relay_ip} tcp dport {} counter name direct drop;",
            tcp.port()
        )
    });
    let (first, last) = (coturn::RELAYED_PORTS.start(), coturn::RELAYED_PORTS.end());
    format!(
        "table inet {TURN_ONLY} {{
            counter via_turn {{}}
            counter direct {{}}
            chain input {{
                type filter hook input priority 0;
                ip daddr {relay_ip} udp dport {udp} ip saddr {turn_ip} udp sport {first}-{last} \
                    counter name via_turn accept;
                ip daddr {relay_ip} udp dport {udp} counter name direct drop;
                {tcp}
            }}
        }}",
        turn_ip = netns::OTHER_IP,
    )
}

async fn call_through_turn(
    anna: &Session,
    bram: &Session,
    base: &str,
    relay: &Relay,
    coturn: &Coturn,
) -> Result<(), HarnessError> {
    meet(anna, bram, base).await?;
    // The browsers' own word: the selected candidate pair starts at a TURN allocation.
    for (session, other) in [(anna, "Bram"), (bram, "Anna")] {
        let route = format!("return {}?.dataset.route === 'turn';", tile_of(other));
        let what = format!("the route of {other}'s media to say TURN");
        wait_until_within(session, &what, &route, Duration::from_secs(5)).await?;
    }
    let counter = |name| netns::nft_packets(TURN_ONLY, name).map_err(HarnessError::Check);
    let (via_turn, direct) = (counter("via_turn")?, counter("direct")?);
    println!("to the relay: {via_turn} packets from coturn, {direct} others dropped");
    ensure!(
        direct > 0,
        "no packet tried the straight way to the relay: is the firewall in the way at all?"
    );
    ensure!(
        via_turn > 100,
        "only {via_turn} packets reached the relay from coturn"
    );
    let routed = load(&relay.udp_stats.routed);
    let over_tcp = load(&relay.tcp_stats.received);
    ensure!(
        routed > 0 && over_tcp == 0,
        "the relay routed {routed} UDP packets and received {over_tcp} over ICE-TCP"
    );
    // coturn's word: it allocated for both browsers (with the relay's credentials) and let them
    // send to the relay (a permission is per address, without the port).
    let log = coturn.log();
    let allocations = log.matches("ALLOCATE processed, success").count();
    let permission = format!("peer {} lifetime updated", relay.udp_addr.ip());
    let permissions = log
        .lines()
        .filter(|line| line.contains(&permission))
        .count();
    println!("coturn: {allocations} allocations, {permissions} permissions to the relay");
    ensure!(
        allocations >= 2 && permissions >= 2,
        "coturn logged {allocations} allocations and {permissions} permissions to the relay; \
         its log:\n{log}"
    );
    Ok(())
}

/// A network where nothing gets through to the relay but a TURN server, as a locked-down
/// corporate network may be: coturn (Debian's, started by the test on the namespace's other
/// address, `common/coturn.rs`) and nftables rules that let media reach the relay's UDP port
/// only from coturn's relayed ports, and drop ICE-TCP. The relay hands out TURN credentials
/// for that coturn, with its secret. Chromium and Firefox see and hear each other; each
/// says, from its own statistics, that its selected candidate pair goes through TURN; packets
/// reached the relay from coturn and the straight ones were dropped; and coturn's log shows
/// both allocations and the permissions to the relay's media port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers, root, nftables and coturn: run `cargo xtask test`"]
async fn a_call_through_coturn_works_when_nothing_else_gets_through() {
    if !netns::isolated("a_call_through_coturn_works_when_nothing_else_gets_through") {
        return;
    }
    let other: IpAddr = netns::OTHER_IP.parse().unwrap();
    let relay_ip: IpAddr = netns::RELAY_IP.parse().unwrap();
    let coturn = Coturn::start(other, relay_ip).unwrap_or_else(|e| panic!("{e}"));
    let relay = start_relay_with(None, |config| {
        config.turn_uri = vec![coturn.udp_uri()];
        config.turn_secret = Some(coturn.secret().parse().unwrap());
    })
    .await;
    netns::nft(&turn_only_rules(&relay)).unwrap_or_else(|e| panic!("{e}"));
    let base = format!("http://{}/", relay.http_addr);
    let (anna, bram) = chromium_and_firefox().await;
    let outcome = call_through_turn(&anna, &bram, &base, &relay, &coturn).await;
    let context = format!("relay at {base}, coturn at {}", coturn.addr);
    finish_pair("through_turn", anna, bram, outcome, &context).await;
    relay.shut_down().await;
}

/// The nftables table of [`after_a_twenty_second_network_outage_both_browsers_are_back_by_themselves`]: every
/// media packet to or from the relay, over UDP or ICE-TCP, is dropped (and counted).
const OUTAGE: &str = "veilig_outage";

fn outage_rules(relay: &Relay) -> String {
    let udp = relay.udp_addr.port();
    let tcp = relay.tcp_addr.map_or(String::new(), |tcp| {
        let port = tcp.port();
        format!(
            "tcp dport {port} counter name dropped drop; tcp sport {port} counter name dropped drop;"
        )
    });
    format!(
        "table inet {OUTAGE} {{
            counter dropped {{}}
            chain input {{
                type filter hook input priority 0;
                udp dport {udp} counter name dropped drop;
                udp sport {udp} counter name dropped drop;
                {tcp}
            }}
        }}"
    )
}

async fn outage(
    anna: &Session,
    bram: &Session,
    base: &str,
    relay: &Relay,
) -> Result<(), HarnessError> {
    meet(anna, bram, base).await?;
    // Each side's tile of the other: it is keyed by participant, so a rejoin replaces it (only
    // reported: how the call comes back is the browsers' choice, see the test's docs).
    for (session, other) in [(anna, "Bram"), (bram, "Anna")] {
        let kept = eval(
            session,
            &format!(
                "window.__before = {}; return !!window.__before;",
                tile_of(other)
            ),
        )
        .await?;
        ensure!(kept == json!(true), "no tile of {other} before the outage");
    }
    netns::nft(&outage_rules(relay)).map_err(HarnessError::Check)?;
    tokio::time::sleep(OUTAGE_LENGTH).await;
    let dropped = netns::nft_packets(OUTAGE, "dropped").map_err(HarnessError::Check)?;
    netns::nft(&format!("delete table inet {OUTAGE}")).map_err(HarnessError::Check)?;
    // One window of 30 s from the network's return for both browsers, not 30 s each.
    let back_by = std::time::Instant::now() + Duration::from_secs(30);
    println!("the outage dropped {dropped} media packets");
    ensure!(dropped > 100, "the outage dropped only {dropped} packets");
    for (session, other) in [(anna, "Bram"), (bram, "Anna")] {
        plays_again(session, other, back_by).await?;
        let same = eval(
            session,
            &format!("return window.__before === {};", tile_of(other)),
        )
        .await?;
        let how = if same == json!(true) {
            "resumed"
        } else {
            "rejoined"
        };
        println!("{}: the call {how}", session.browser().name());
    }
    Ok(())
}

/// Longer than the 15 s after which the relay's ICE agent gives up on a pair without checks,
/// and than Chromium's own give-up (about 19 s), so both ways back are taken.
const OUTAGE_LENGTH: Duration = Duration::from_secs(20);

/// A network outage of 20 s, as a Wi-Fi handover or a train tunnel makes: every media packet
/// between the browsers and the relay is dropped, UDP and ICE-TCP, while signaling stays up.
/// Within 30 s of the network's return Chromium and Firefox see each other's video play on
/// again, by themselves. How, measured: Chromium fails its own connection at about 19 s and
/// rejoins; the relay drops Firefox at 15 s (its ICE agent's limit; `relay/src/room.rs`), and
/// Firefox rejoins, connecting once the network is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the release build, the browsers, root and nftables: run `cargo xtask test`"]
async fn after_a_twenty_second_network_outage_both_browsers_are_back_by_themselves() {
    if !netns::isolated("after_a_twenty_second_network_outage_both_browsers_are_back_by_themselves")
    {
        return;
    }
    let relay = start_relay(None).await;
    let base = format!("http://{}/", relay.http_addr);
    let (anna, bram) = chromium_and_firefox().await;
    let outcome = outage(&anna, &bram, &base, &relay).await;
    let context = format!("relay at {base}");
    finish_pair("outage", anna, bram, outcome, &context).await;
    relay.shut_down().await;
}

/// How long the benchmark records the decoded frame count, per case.
const MEASURED: Duration = Duration::from_secs(20);

/// Records, in the page, each change of `name`'s tile's decoded-frame count with its time. The
/// app reads the browser's statistics once a second; timing each change, rather than polling
/// the attribute from here, keeps that second's jitter out of the rate.
async fn record_decoded_frames(session: &Session, name: &str) -> Result<(), HarnessError> {
    let installed = eval(
        session,
        &format!(
            r#"const tile = {tile};
               if (!tile) return false;
               const frames = window.__veiligFrames = [];
               new MutationObserver(() => frames.push([performance.now(), Number(tile.dataset.framesDecoded)]))
                 .observe(tile, {{ attributes: true, attributeFilter: ['data-frames-decoded'] }});
               return true;"#,
            tile = tile_of(name)
        ),
    )
    .await?;
    ensure!(installed == json!(true), "no tile of {name} to record");
    Ok(())
}

/// The median of the decoded frame rates between consecutive recorded changes.
async fn median_decoded_fps(session: &Session) -> Result<f64, HarnessError> {
    let series = eval(session, "return window.__veiligFrames;").await?;
    let points: Vec<(f64, f64)> = series
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|point| Some((point[0].as_f64()?, point[1].as_f64()?)))
        .collect();
    let mut rates: Vec<f64> = points
        .windows(2)
        .map(|pair| (pair[1].1 - pair[0].1) / (pair[1].0 - pair[0].0) * 1000.0)
        .collect();
    ensure!(
        rates.len() >= 5,
        "{}: too few samples: {series}",
        session.browser().name()
    );
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

/// Meets, then records both sides' decoded frames for [`MEASURED`]: (Chromium receiving
/// Firefox, Firefox receiving Chromium), in frames per second.
async fn decoded_fps(anna: &Session, bram: &Session, base: &str) -> Result<[f64; 2], HarnessError> {
    meet(anna, bram, base).await?;
    record_decoded_frames(anna, "Bram").await?;
    record_decoded_frames(bram, "Anna").await?;
    tokio::time::sleep(MEASURED).await;
    Ok([
        median_decoded_fps(anna).await?,
        median_decoded_fps(bram).await?,
    ])
}

/// Benchmark, not a check: the decoded frame rate of a call through the forwarder, clean (no
/// delay, no loss) and then lossy (100 ms and 2 % each way), the same setup otherwise. Prints
/// the median rate of each receiving browser and the lossy/clean ratio.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark: run `cargo xtask bench-browser`"]
async fn bench_decoded_fps_clean_vs_lossy() {
    if !netns::isolated("bench_decoded_fps_clean_vs_lossy") {
        return;
    }
    let mut measured = Vec::new();
    for (case, to_relay, from_relay) in [
        ("clean", Impairment::NONE, Impairment::NONE),
        ("lossy", lossy(1), lossy(2)),
    ] {
        let (relay, path, base) = relay_behind(to_relay, from_relay).await;
        let (anna, bram) = chromium_and_firefox().await;
        let outcome = decoded_fps(&anna, &bram, &base).await;
        let fps = outcome.as_ref().ok().copied();
        let outcome = outcome.map(|_| ());
        finish_pair(&format!("bench_fps_{case}"), anna, bram, outcome, &base).await;
        drop(path);
        relay.shut_down().await;
        let [chromium, firefox] = fps.expect("measured");
        println!(
            "{case}: median decoded fps over {} s: Chromium receiving Firefox {chromium:.1}, \
             Firefox receiving Chromium {firefox:.1}",
            MEASURED.as_secs()
        );
        measured.push([chromium, firefox]);
    }
    let (clean, lossy) = (measured[0], measured[1]);
    println!(
        "decoded fps, clean vs 100 ms + 2 % loss each way (median over {} s):",
        MEASURED.as_secs()
    );
    for (i, receiver) in ["Chromium receiving Firefox", "Firefox receiving Chromium"]
        .iter()
        .enumerate()
    {
        println!(
            "  {receiver}: clean {:.1}, lossy {:.1}, ratio {:.2}",
            clean[i],
            lossy[i],
            lossy[i] / clean[i]
        );
    }
}
