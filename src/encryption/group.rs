//! The page's side of the meeting's MLS group: what it tells the worker's group
//! ([`crate::frame_crypto::group`]) and what the worker tells it back.
//!
//! The page only carries bytes: the link's MLS PSK once, to its own worker; handshake messages
//! from the relay in; key packages and commits to send to the relay out; and the epoch number,
//! safety code and roster size to show. The epochs' base keys stay in the worker.

use js_sys::{Object, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};

use crate::frame_crypto::messages::{self, message};

use super::FrameCrypto;

/// What the worker's group asks of the page, or tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupEvent {
    /// Send this key package to the relay.
    SendKeyPackage(Vec<u8>),
    /// Send this commit (with its Welcome and link tag, if it adds anyone) to the relay.
    SendCommit {
        /// The commit.
        commit: Vec<u8>,
        /// The Welcome and the link tag that goes with it.
        welcome: Option<(Vec<u8>, Vec<u8>)>,
    },
    /// A new epoch: its number, safety code (16 digits) and how many members it has.
    Epoch {
        /// The MLS epoch.
        epoch: u64,
        /// The code everyone in this group state sees: it changes with every join and leave.
        code: String,
        /// Members in the epoch.
        members: u32,
        /// Our leaf index.
        leaf: u32,
    },
    /// Our group state is gone (`removed` or `missed-commit`); a fresh key package follows.
    Rejoin(String),
}

/// Receives the worker's group events.
pub type GroupCallback = Box<dyn FnMut(GroupEvent)>;

fn bytes(value: &JsValue, name: &str) -> Option<Vec<u8>> {
    messages::field(value, name)
        .dyn_into::<Uint8Array>()
        .ok()
        .map(|array| array.to_vec())
}

/// Reads a group message from the worker, if `data` is one.
pub(super) fn read_event(kind: &str, data: &JsValue) -> Option<GroupEvent> {
    let number = |name: &str| messages::field(data, name).as_f64();
    Some(match kind {
        "send-key-package" => GroupEvent::SendKeyPackage(bytes(data, "data")?),
        "send-commit" => GroupEvent::SendCommit {
            commit: bytes(data, "commit")?,
            welcome: bytes(data, "welcome").zip(bytes(data, "linkTag")),
        },
        "epoch" => GroupEvent::Epoch {
            epoch: number("epoch")? as u64,
            code: messages::field(data, "code").as_string()?,
            members: number("members")? as u32,
            leaf: number("leaf")? as u32,
        },
        "rejoin" => GroupEvent::Rejoin(messages::field(data, "why").as_string()?),
        _ => return None,
    })
}

fn set(object: &Object, name: &str, value: impl Into<JsValue>) {
    let _ = Reflect::set(object, &name.into(), &value.into());
}

impl FrameCrypto {
    /// Starts the meeting's MLS group in the worker: `psk` is the link's MLS PSK, `label` our
    /// participant id at the relay, `alone` whether the relay's welcome listed nobody else (we
    /// create the group) or not (we ask to be added); `engine` is `auto`, `wasm` or
    /// `webcrypto`. From then on the worker takes no link key.
    pub fn start_group(&self, psk: &[u8; 32], label: &str, alone: bool, engine: &str) {
        let out = message("group");
        set(&out, "psk", Uint8Array::from(psk.as_slice()));
        set(&out, "label", label);
        set(&out, "alone", alone);
        set(&out, "engine", engine);
        let _ = self.worker.post_message(&out);
    }

    /// Remote track `id` is the line the relay says comes from participant `who`: in an MLS
    /// meeting its frames open only under the KIDs of the member that joined as `who`.
    pub fn bind_owner(&self, id: u32, who: &str) {
        let _ = self
            .worker
            .post_message(&messages::owner_message(id, who).into());
    }

    /// A key package the relay delivered from `from`.
    pub fn key_package_in(&self, from: &str, data: &[u8]) {
        let out = handshake("key_package");
        set(&out, "from", from);
        set(&out, "data", Uint8Array::from(data));
        let _ = self.worker.post_message(&out);
    }

    /// A commit in the relay's order, with its Welcome and link tag if it has them.
    pub fn commit_in(&self, commit: &[u8], welcome: Option<(&[u8], &[u8])>) {
        let out = handshake("commit");
        set(&out, "commit", Uint8Array::from(commit));
        if let Some((welcome, tag)) = welcome {
            set(&out, "welcome", Uint8Array::from(welcome));
            set(&out, "linkTag", Uint8Array::from(tag));
        }
        let _ = self.worker.post_message(&out);
    }

    /// The relay says `who` left.
    pub fn left_in(&self, who: &str) {
        let out = handshake("left");
        set(&out, "who", who);
        let _ = self.worker.post_message(&out);
    }

    /// Calls `callback` with every group event from the worker.
    pub fn on_group(&self, callback: GroupCallback) {
        *self.on_group.borrow_mut() = Some(callback);
    }
}

fn handshake(kind: &str) -> Object {
    let out = message("handshake");
    set(&out, "kind", kind);
    out
}
