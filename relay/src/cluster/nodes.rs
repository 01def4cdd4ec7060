//! Which nodes are alive, and how loaded: the table every node keeps from the heartbeats it
//! hears, and the choice of a node for a new room.
//!
//! Pure: no IO, no clock of its own (every call takes `now`), so the rules are tested natively.
//!
//! - A node is *alive* while its last heartbeat is younger than [`DEAD_AFTER`] (three missed
//!   beats). While this node's own NATS connection is down it cannot hear anybody, so it judges
//!   nobody: [`NodeTable::reconnected`] forgives the silence.
//! - A node is *usable* for a new room when alive, not draining, and below its `--max-rooms`.
//! - Load is the node's rooms over its `--max-rooms`. The room counts come from the placement
//!   bucket (every node watches it, so they are current to a few milliseconds), not from the
//!   heartbeats (a second old): placements made in a burst from three nodes see each other.
//! - [`choose`] takes the least loaded usable node; among equals, the one whose hash with the
//!   room's placement key is highest (rendezvous hashing), so nodes placing at the same moment,
//!   seeing the same counts, still spread their rooms instead of all picking one node.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use super::wire::Heartbeat;

/// How often a node announces itself.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);
/// Silence after which a node is taken for dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(3);

/// What is known of one node.
#[derive(Clone, Debug)]
pub struct Node {
    /// Its last heartbeat.
    pub heartbeat: Heartbeat,
    /// When it was heard.
    pub heard: Instant,
}

/// The nodes heard from.
#[derive(Debug, Default)]
pub struct NodeTable {
    nodes: HashMap<String, Node>,
}

impl NodeTable {
    /// Records a heartbeat.
    pub fn heard(&mut self, heartbeat: Heartbeat, now: Instant) {
        self.nodes.insert(
            heartbeat.node.clone(),
            Node {
                heartbeat,
                heard: now,
            },
        );
    }

    /// Our own connection came back after an outage: nobody could be heard meanwhile, so every
    /// node gets [`DEAD_AFTER`] from now to be heard again.
    pub fn reconnected(&mut self, now: Instant) {
        for node in self.nodes.values_mut() {
            node.heard = now;
        }
    }

    /// Whether `node` has been heard lately.
    pub fn alive(&self, node: &str, now: Instant) -> bool {
        self.nodes
            .get(node)
            .is_some_and(|n| now.saturating_duration_since(n.heard) < DEAD_AFTER)
    }

    /// Whether `node` is alive and draining.
    pub fn draining(&self, node: &str, now: Instant) -> bool {
        self.alive(node, now) && self.nodes.get(node).is_some_and(|n| n.heartbeat.draining)
    }

    /// Alive nodes, for `/metrics`.
    pub fn alive_nodes(&self, now: Instant) -> Vec<&Node> {
        let mut nodes: Vec<&Node> = self
            .nodes
            .values()
            .filter(|n| now.saturating_duration_since(n.heard) < DEAD_AFTER)
            .collect();
        nodes.sort_by(|a, b| a.heartbeat.node.cmp(&b.heartbeat.node));
        nodes
    }

    /// Forgets nodes silent for long (a restarted node comes back under a new id).
    pub fn prune(&mut self, now: Instant) {
        self.nodes
            .retain(|_, n| now.saturating_duration_since(n.heard) < DEAD_AFTER * 20);
    }

    /// The node for a new room with placement key `key`, given the rooms placed on each node
    /// (`placed`), or `None` if no node is usable.
    pub fn choose(
        &self,
        key: &str,
        placed: &HashMap<String, usize>,
        now: Instant,
    ) -> Option<String> {
        let usable = self.alive_nodes(now).into_iter().filter(|n| {
            let rooms = placed.get(&n.heartbeat.node).copied().unwrap_or(0);
            !n.heartbeat.draining && rooms < n.heartbeat.max_rooms
        });
        choose(
            key,
            usable.map(|n| {
                let rooms = placed.get(&n.heartbeat.node).copied().unwrap_or(0);
                (n.heartbeat.node.as_str(), rooms, n.heartbeat.max_rooms)
            }),
        )
    }
}

/// Among `(node, rooms, max_rooms)`, the nodes within one room of the least loaded one's share
/// (rooms ≤ least load × max_rooms + 1), and of those the one whose rendezvous hash with `key`
/// is highest. The slack of one room is what keeps a burst from herding: with counts 5, 5, 4,
/// every placement made before the next count is seen would pick the same node; with the slack
/// they spread by the room's hash, and the counts still never drift apart by more than two.
pub fn choose<'a>(
    key: &str,
    nodes: impl Iterator<Item = (&'a str, usize, usize)>,
) -> Option<String> {
    let nodes: Vec<(&str, f64, f64)> = nodes
        .map(|(node, rooms, max_rooms)| (node, rooms as f64, max_rooms.max(1) as f64))
        .collect();
    let least = nodes
        .iter()
        .map(|(_, rooms, max_rooms)| rooms / max_rooms)
        .min_by(f64::total_cmp)?;
    nodes
        .into_iter()
        .filter(|(_, rooms, max_rooms)| *rooms <= least * max_rooms + 1.0)
        .max_by_key(|(node, ..)| rendezvous(key, node))
        .map(|(node, ..)| node.to_owned())
}

fn rendezvous(key: &str, node: &str) -> u64 {
    let digest = Sha256::new()
        .chain_update(key.as_bytes())
        .chain_update(b"/")
        .chain_update(node.as_bytes())
        .finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn beat(node: &str, draining: bool) -> Heartbeat {
        Heartbeat {
            node: node.into(),
            media: "127.0.0.1:10000".parse().unwrap(),
            max_rooms: 100,
            max_participants: 25,
            rooms: 0,
            participants: 0,
            draining,
        }
    }

    #[test]
    fn silence_kills_and_a_reconnect_forgives() {
        let start = Instant::now();
        let mut table = NodeTable::default();
        table.heard(beat("a", false), start);
        assert!(table.alive("a", start + DEAD_AFTER / 2));
        assert!(!table.alive("a", start + DEAD_AFTER));
        assert!(!table.alive("b", start));
        table.reconnected(start + DEAD_AFTER * 2);
        assert!(table.alive("a", start + DEAD_AFTER * 2));
    }

    #[test]
    fn the_least_loaded_usable_node_is_chosen() {
        let now = Instant::now();
        let mut table = NodeTable::default();
        for node in ["a", "b", "c"] {
            table.heard(beat(node, node == "c"), now);
        }
        let placed = HashMap::from([
            ("a".to_owned(), 3),
            ("b".to_owned(), 2),
            ("c".to_owned(), 0),
        ]);
        // c is draining, so b.
        assert_eq!(table.choose("k", &placed, now).as_deref(), Some("b"));
        // Nobody usable once all are dead.
        assert_eq!(table.choose("k", &placed, now + DEAD_AFTER), None);
        // Capacity counts: 3 of 100 is less than 2 of 10.
        let nodes = [("a", 3, 100), ("b", 2, 10)];
        assert_eq!(choose("k", nodes.into_iter()).as_deref(), Some("a"));
        // Two rooms more than the least loaded is never chosen.
        for room in 0..50 {
            let nodes = [("a", 6, 100), ("b", 4, 100), ("c", 5, 100)];
            assert_ne!(
                choose(&format!("r{room}"), nodes.into_iter()).as_deref(),
                Some("a")
            );
        }
    }

    /// Three nodes placing 60 rooms at once, each from the same (stale) counts: the tie-break
    /// alone spreads them, within what a fair coin would.
    #[test]
    fn equal_loads_spread_by_the_room() {
        let mut counts = HashMap::<String, usize>::new();
        for room in 0..60 {
            let key = format!("room-{room}");
            let node = choose(
                &key,
                [("a", 0, 100), ("b", 0, 100), ("c", 0, 100)].into_iter(),
            )
            .unwrap();
            *counts.entry(node).or_default() += 1;
        }
        assert_eq!(counts.len(), 3);
        assert!(
            counts.values().all(|&n| (8..=32).contains(&n)),
            "{counts:?}"
        );
    }
}
