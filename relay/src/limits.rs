//! Per-address caps: how much of the relay one network address may hold at once, so that one
//! host cannot take what everybody shares (the ICE-TCP waiting slots, TLS handshakes, signaling
//! connections, room joins).
//!
//! ```text
//!  /ws upgrade ──► WebSocket connections open now (Cap::WebSockets)  ─┐ over: HTTP 429
//!             └──► joins in the last minute (token bucket)            ─┘
//!  ICE-TCP accept ──► connections not yet naming a participant (Cap::IceTcpWaiting)  over: closed
//!  TLS accept ──► handshakes in progress (Cap::TlsHandshakes)                       over: closed
//! ```
//! An "address" is an IPv4 address, or an IPv6 /64: one host usually holds a whole /64, so
//! counting single IPv6 addresses would give it 2^64 times the allowance. IPv4-mapped IPv6
//! addresses count as their IPv4 address. A cap of 0 means no cap.
//!
//! What this module does not do: it reads no headers. Behind a reverse proxy every client has the
//! proxy's address, so there either raise the caps (or set them to 0) and let the proxy limit per
//! client, or let browsers reach the relay directly. It keeps nothing beyond what is in use: a
//! held count disappears with its last holder, and a join bucket once it has refilled.
//! Addresses are never logged or exported; `/metrics` counts refusals by cap only.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use crate::counters::Counters;

/// What an address holds while it lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cap {
    /// Signaling WebSockets open.
    WebSockets,
    /// ICE-TCP connections that have not yet named a participant.
    IceTcpWaiting,
    /// TLS handshakes in progress.
    TlsHandshakes,
}

/// Why something was refused, as `/metrics` labels it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Over a [`Cap`].
    Cap(Cap),
    /// Over the joins per minute.
    Joins,
}

/// The caps; 0 is no cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// Signaling WebSockets open at once per address.
    pub websockets: u32,
    /// Joins (WebSocket upgrades: each connection joins once) per minute per address; a burst of
    /// this many, refilled evenly over the minute.
    pub joins_per_minute: u32,
    /// ICE-TCP connections per address waiting for their first packet.
    pub ice_tcp_waiting: u32,
    /// TLS handshakes in progress per address.
    pub tls_handshakes: u32,
}

impl Caps {
    fn of(&self, cap: Cap) -> u32 {
        match cap {
            Cap::WebSockets => self.websockets,
            Cap::IceTcpWaiting => self.ice_tcp_waiting,
            Cap::TlsHandshakes => self.tls_handshakes,
        }
    }
}

/// A token bucket of joins for one address.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

#[derive(Debug, Default)]
struct State {
    held: HashMap<(Cap, IpAddr), u32>,
    joins: HashMap<IpAddr, Bucket>,
}

/// The refusal counts live with the other counts ([`crate::counters`]); which count belongs
/// to which refusal is this module's to say, since it owns the caps.
impl Counters {
    /// The count of refusals for `refusal`.
    pub fn address_limited(&self, refusal: Refusal) -> &AtomicU64 {
        match refusal {
            Refusal::Cap(Cap::WebSockets) => &self.limited_websockets,
            Refusal::Joins => &self.limited_joins,
            Refusal::Cap(Cap::IceTcpWaiting) => &self.limited_ice_tcp,
            Refusal::Cap(Cap::TlsHandshakes) => &self.limited_tls,
        }
    }
}

/// The relay's per-address counts. Shared by the HTTP side, ICE-TCP and TLS.
#[derive(Debug)]
pub struct AddressLimits {
    caps: Caps,
    state: Mutex<State>,
    counters: Arc<Counters>,
}

/// One unit of a [`Cap`] held by an address, given back when dropped.
#[derive(Debug)]
pub struct AddressPermit {
    limits: Arc<AddressLimits>,
    key: (Cap, IpAddr),
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut state = self.limits.lock();
        if let Some(count) = state.held.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                state.held.remove(&self.key);
            }
        }
    }
}

/// The address `ip` is counted under: itself for IPv4, its /64 for IPv6.
pub fn address_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

impl AddressLimits {
    /// Limits with `caps`; refusals are counted in `counters`.
    pub fn new(caps: Caps, counters: Arc<Counters>) -> Arc<Self> {
        Arc::new(AddressLimits {
            caps,
            state: Mutex::new(State::default()),
            counters,
        })
    }

    /// One more of `cap` for `ip`, or `None` (counted) if the address holds its cap already.
    pub fn hold(self: &Arc<Self>, cap: Cap, ip: IpAddr) -> Option<AddressPermit> {
        let key = (cap, address_key(ip));
        let limit = self.caps.of(cap);
        let mut state = self.lock();
        let count = state.held.entry(key).or_insert(0);
        if limit != 0 && *count >= limit {
            drop(state);
            self.refused(Refusal::Cap(cap));
            return None;
        }
        *count += 1;
        Some(AddressPermit {
            limits: self.clone(),
            key,
        })
    }

    /// Whether `ip` may join once more at `now`; a refusal is counted.
    pub fn allow_join(&self, ip: IpAddr, now: Instant) -> bool {
        let per_minute = self.caps.joins_per_minute;
        if per_minute == 0 {
            return true;
        }
        let burst = f64::from(per_minute);
        let rate = burst / 60.0;
        let refill = |bucket: &Bucket| {
            (bucket.tokens + now.saturating_duration_since(bucket.last).as_secs_f64() * rate)
                .min(burst)
        };
        let mut state = self.lock();
        // Keep the table to the addresses that joined lately: a full bucket is no bucket.
        if state.joins.len() >= 1024 {
            state.joins.retain(|_, bucket| refill(bucket) < burst);
        }
        let bucket = state.joins.entry(address_key(ip)).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        bucket.tokens = refill(bucket);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return true;
        }
        drop(state);
        self.refused(Refusal::Joins);
        false
    }

    /// Addresses holding something now, or with a join bucket (for tests: nothing is kept
    /// beyond use).
    pub fn tracked(&self) -> usize {
        let state = self.lock();
        state.held.len() + state.joins.len()
    }

    fn refused(&self, refusal: Refusal) {
        self.counters
            .address_limited(refusal)
            .fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A few lines of map code run under this lock; a panic there leaves whole maps.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limits(caps: Caps) -> Arc<AddressLimits> {
        AddressLimits::new(caps, Arc::new(Counters::default()))
    }

    const CAPS: Caps = Caps {
        websockets: 2,
        joins_per_minute: 3,
        ice_tcp_waiting: 1,
        tls_handshakes: 0,
    };

    #[test]
    fn a_cap_holds_per_address_and_frees_on_drop() {
        let limits = limits(CAPS);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = limits.hold(Cap::WebSockets, a).unwrap();
        let _second = limits.hold(Cap::WebSockets, a).unwrap();
        assert!(limits.hold(Cap::WebSockets, a).is_none());
        assert!(
            limits.hold(Cap::WebSockets, b).is_some(),
            "others unaffected"
        );
        let _tcp = limits.hold(Cap::IceTcpWaiting, a).unwrap();
        drop(first);
        assert!(limits.hold(Cap::WebSockets, a).is_some());
        // 0: no cap.
        let many: Vec<_> = (0..100)
            .map(|_| limits.hold(Cap::TlsHandshakes, a).unwrap())
            .collect();
        drop(many);
        assert_eq!(
            limits
                .counters
                .address_limited(Refusal::Cap(Cap::WebSockets))
                .load(Ordering::Relaxed),
            1
        );
    }

    #[test]
    fn nothing_is_kept_once_given_back() {
        let limits = limits(CAPS);
        let permits: Vec<_> = (1..=50u8)
            .map(|n| {
                limits
                    .hold(Cap::WebSockets, IpAddr::from([198, 51, 100, n]))
                    .unwrap()
            })
            .collect();
        assert_eq!(limits.tracked(), 50);
        drop(permits);
        assert_eq!(limits.tracked(), 0);
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let limits = limits(CAPS);
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let _p = limits.hold(Cap::IceTcpWaiting, one).unwrap();
        assert!(limits.hold(Cap::IceTcpWaiting, same_64).is_none());
        assert!(limits.hold(Cap::IceTcpWaiting, other_64).is_some());
        assert_eq!(
            address_key("::ffff:192.0.2.7".parse().unwrap()),
            "192.0.2.7".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn joins_are_a_burst_refilled_over_the_minute() {
        let limits = limits(CAPS);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let start = Instant::now();
        assert!((0..3).all(|_| limits.allow_join(a, start)));
        assert!(!limits.allow_join(a, start));
        assert!(limits.allow_join("192.0.2.9".parse().unwrap(), start));
        // Three a minute: one more after 20 s.
        assert!(!limits.allow_join(a, start + Duration::from_secs(19)));
        assert!(limits.allow_join(a, start + Duration::from_secs(40)));
        assert_eq!(
            limits
                .counters
                .address_limited(Refusal::Joins)
                .load(Ordering::Relaxed),
            2
        );
    }
}
