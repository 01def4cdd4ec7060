//! What logs say instead of a room id ([`RoomTag`]): room ids never appear in logs.

use std::fmt;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};
use veilig_protocol::RoomId;

/// What logs say instead of a room id: the first 8 hex digits of SHA-256(salt ‖ room id), with a
/// salt drawn at random once per process. Lines about one room can be followed within a run, but
/// a tag cannot be checked against a guessed room id, nor matched across restarts.
#[derive(Clone, PartialEq, Eq)]
pub struct RoomTag(String);

impl RoomTag {
    /// The tag of `room` in this process.
    pub fn of(room: &RoomId) -> Self {
        static SALT: OnceLock<[u8; 16]> = OnceLock::new();
        let salt = SALT.get_or_init(|| {
            let mut salt = [0u8; 16];
            getrandom::fill(&mut salt).expect("the OS random number generator works");
            salt
        });
        let digest = Sha256::new()
            .chain_update(salt)
            .chain_update(room.as_str().as_bytes())
            .finalize();
        RoomTag(digest[..4].iter().map(|b| format!("{b:02x}")).collect())
    }
}

impl fmt::Display for RoomTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RoomTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomTag({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_short_stable_and_hide_the_room() {
        let room = RoomId::new("weekly-sync").unwrap();
        let tag = RoomTag::of(&room).to_string();
        assert_eq!(tag.len(), 8);
        assert_eq!(tag, RoomTag::of(&room).to_string());
        assert_ne!(
            tag,
            RoomTag::of(&RoomId::new("weekly-sink").unwrap()).to_string()
        );
        // Salted: not the plain hash of the id.
        let plain = Sha256::digest(b"weekly-sync");
        let plain: String = plain[..4].iter().map(|b| format!("{b:02x}")).collect();
        assert_ne!(tag, plain);
    }
}
