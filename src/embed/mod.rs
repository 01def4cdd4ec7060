//! Embedding a meeting in another site's page, and letting that page drive it.
//!
//! A site embeds `<iframe src="https://HOST/<room>#<secret>&embed=<its origin>"
//! allow="camera; microphone; display-capture; fullscreen">` (or lets `static/embed.js` do it).
//! Whether the browser shows the meeting there at all is the relay's call (CSP
//! `frame-ancestors`, from `--frame-ancestors`). With `embed=` in the link's fragment the
//! meeting also speaks a small `postMessage` API with that origin, and only with it:
//!
//! ```text
//!  host page (embed origin)                      meeting (iframe)
//!    postMessage(command, relay origin) ──► bridge: event.origin == embed origin
//!                                                  && event.source == window.parent
//!                                                  ─► messages::parse_command ─► Call
//!    "message" listener ◄── postMessage(event, embed origin) ◄── events::Reporter ◄── CallEvent
//! ```
//!
//! - [`messages`]: the JSON format, versioned; pure, tested natively.
//! - [`events`]: call states to host events, each change once; pure, tested natively.
//! - `bridge` (browser only): the listener and the posting, and nothing else.
//!
//! What never crosses: the link's secret, names, chat, media, safety code. Participants are
//! the relay's opaque ids. Without `embed=` there is no listener at all.

pub mod events;
pub mod messages;

#[cfg(target_arch = "wasm32")]
pub mod bridge;
