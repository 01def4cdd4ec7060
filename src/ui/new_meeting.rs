//! Which meeting this tab just created, so that its lobby lets the creator choose the
//! passphrase (typed twice) instead of asking for one.
//!
//! Kept in `sessionStorage` under the room id only: it lives as long as this tab, survives the
//! start page's navigation to the new link and a reload, and is never sent anywhere. It holds
//! no secret (the room id is the link's path) and never the passphrase. Forgotten once the
//! relay has admitted the creator: from then on the passphrase is set, and this browser joins
//! like any guest.

const KEY: &str = "veilig.new-meeting";

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok()?
}

/// Notes that this tab created the meeting `room`.
pub fn created(room: &str) {
    if let Some(storage) = storage() {
        let _ = storage.set_item(KEY, room);
    }
}

/// Whether this tab created the meeting `room` and has not joined it yet.
pub fn is_new(room: &str) -> bool {
    storage()
        .and_then(|s| s.get_item(KEY).ok().flatten())
        .is_some_and(|stored| stored == room)
}

/// Forgets it: the creator is in, the passphrase is set.
pub fn joined() {
    if let Some(storage) = storage() {
        let _ = storage.remove_item(KEY);
    }
}
