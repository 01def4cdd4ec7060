//! The call's side of the meeting's MLS group (issue 18): when the relay welcomes us, the worker
//! starts the group (creating it if we are alone, else asking to be added); key packages and
//! commits travel between the relay and the worker as base64 text on one side and bytes on the
//! other; each new epoch's safety code goes to the UI.
//!
//! ```text
//!  relay ── welcome {you, participants} ──► start: worker.start_group(psk, you, alone)
//!  relay ── key_package / commit / left ──► worker (opaque bytes; the worker's driver decides)
//!  worker ── send-key-package / send-commit ──► relay (key_package / commit)
//!  worker ── epoch {epoch, code, members} ──► CallEvent::Epoch ──► the safety code shown
//! ```
//! Only a meeting whose link asks for MLS runs this ([`super::CallConfig::mls`]); in it the
//! worker never holds the link's media key. What this module does not do: decide anything
//! about the group (the worker's [`veilig_mls::driver::Driver`] does), or see a key (the page
//! gets the epoch number, the code and the roster size).

use std::cell::RefCell;
use std::rc::Rc;

use base64ct::{Base64, Encoding};
use veilig_protocol::{ClientMessage, ParticipantId};

use super::{emit, CallEvent, State};
use crate::encryption::group::GroupEvent;

/// Starts the group in this connection's worker, at the relay's welcome: `alone` when the
/// welcome lists nobody else (we create the group).
pub(super) fn start(state: &Rc<RefCell<State>>, you: &ParticipantId, alone: bool) {
    let s = state.borrow();
    if !s.config.mls {
        return;
    }
    if let Some(crypto) = &s.crypto {
        crypto.start_group(
            s.config.keys.mls_psk.as_bytes(),
            you.as_str(),
            alone,
            &s.config.engine,
        );
    }
}

/// A key package the relay delivered from `from` (base64).
pub(super) fn key_package(state: &Rc<RefCell<State>>, from: &ParticipantId, data: &str) {
    let s = state.borrow();
    let (true, Some(crypto)) = (s.config.mls, &s.crypto) else {
        return;
    };
    match Base64::decode_vec(data) {
        Ok(data) => crypto.key_package_in(from.as_str(), &data),
        Err(_) => warn(&format!("a key package from {from} that is not base64")),
    }
}

/// A commit in the relay's order, with its Welcome and link tag if it adds anyone (base64).
pub(super) fn commit(
    state: &Rc<RefCell<State>>,
    commit: &str,
    welcome: Option<&str>,
    link_tag: Option<&str>,
) {
    let s = state.borrow();
    let (true, Some(crypto)) = (s.config.mls, &s.crypto) else {
        return;
    };
    let decoded = (|| {
        let commit = Base64::decode_vec(commit).ok()?;
        let welcome = match (welcome, link_tag) {
            (Some(welcome), Some(tag)) => Some((
                Base64::decode_vec(welcome).ok()?,
                Base64::decode_vec(tag).ok()?,
            )),
            _ => None,
        };
        Some((commit, welcome))
    })();
    match decoded {
        Some((commit, welcome)) => crypto.commit_in(
            &commit,
            welcome
                .as_ref()
                .map(|(welcome, tag)| (welcome.as_slice(), tag.as_slice())),
        ),
        None => warn("a commit that is not base64"),
    }
}

/// The relay says `who` left: the committer removes their leaf.
pub(super) fn left(state: &Rc<RefCell<State>>, who: &ParticipantId) {
    let s = state.borrow();
    if let (true, Some(crypto)) = (s.config.mls, &s.crypto) {
        crypto.left_in(who.as_str());
    }
}

/// What the worker's group asks of us or tells us.
pub(super) fn on_group_event(state: &Rc<RefCell<State>>, event: GroupEvent) {
    match event {
        GroupEvent::SendKeyPackage(data) => send(
            state,
            ClientMessage::KeyPackage {
                data: Base64::encode_string(&data),
            },
        ),
        GroupEvent::SendCommit { commit, welcome } => {
            let (welcome, link_tag) = match welcome {
                Some((welcome, tag)) => (
                    Some(Base64::encode_string(&welcome)),
                    Some(Base64::encode_string(&tag)),
                ),
                None => (None, None),
            };
            send(
                state,
                ClientMessage::Commit {
                    commit: Base64::encode_string(&commit),
                    welcome,
                    link_tag,
                },
            )
        }
        GroupEvent::Epoch {
            epoch,
            code,
            members,
            ..
        } => emit(
            state,
            CallEvent::Epoch {
                epoch,
                code,
                members,
            },
        ),
        // The worker erased its keys and asks to be added again with a fresh key package,
        // which follows as `SendKeyPackage`; frames stop until then.
        GroupEvent::Rejoin(why) => warn(&format!("out of the meeting's group ({why}): rejoining")),
    }
}

fn send(state: &Rc<RefCell<State>>, message: ClientMessage) {
    if let Some(signaling) = &state.borrow().signaling {
        signaling.send(&message);
    }
}

fn warn(text: &str) {
    web_sys::console::warn_1(&format!("Veilig: {text}").into());
}
