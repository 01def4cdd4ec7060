//! A call's machinery, with no UI: the relay's WebSocket ([`signaling`]), the peer connection
//! ([`peer`]), local media ([`media`]), the end-to-end encrypted notes (names, mute states,
//! chat: [`metadata`]) and the [`session`] that drives them, with reconnection; what the call
//! tells the UI ([`events`]) and how each participant's media is doing ([`health`]).
//!
//! [`lines`] (what the relay's offers may say), [`announcements`] (which KIDs a line may
//! carry), [`metadata`], [`route`] and [`video_budget`]
//! are pure and tested natively; the rest is browser glue.

pub mod announcements;
pub mod lines;
pub mod metadata;
pub mod roster;
pub mod route;
pub mod video_budget;

#[cfg(target_arch = "wasm32")]
pub mod events;
#[cfg(target_arch = "wasm32")]
pub mod health;
#[cfg(target_arch = "wasm32")]
pub mod media;
#[cfg(target_arch = "wasm32")]
pub mod peer;
#[cfg(target_arch = "wasm32")]
pub mod session;
#[cfg(target_arch = "wasm32")]
pub mod signaling;
