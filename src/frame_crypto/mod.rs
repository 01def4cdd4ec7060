//! Frame encryption in the browser: the worker that runs the SFrame core on every encoded
//! audio, camera and screen frame (WebRTC encoded transforms), and the pure rules it follows.
//!
//! ```text
//!  page (main thread)                          worker (this module, wasm)
//!  ─────────────────                           ───────────────────────────
//!  key from the link ──── key message ───────► keyring: decryptor + one encryptor per track
//!  sender.transform = RTCRtpScriptTransform ─► rtctransform ─► pipeline (encrypt)
//!  receiver.transform = ...                 ─► rtctransform ─► pipeline (decrypt)
//!  or createEncodedStreams() ── attach ──────► pipeline
//!  per-track counters ◄──────── stats (1/s) ── keyring
//! ```
//!
//! - [`codec_table`] and [`engine`] are pure and tested natively: which codec's clear-prefix
//!   rule applies to a frame, and which AES-GCM engine runs it.
//! - [`messages`]: the page ↔ worker messages.
//! - [`group`]: the meeting's MLS group in the worker (issue 18), feeding the keyring epoch by
//!   epoch; its page ↔ worker messages are documented there.
//! - `worker`, `pipeline`, `keyring`, `webcrypto`, `bench`: the worker itself (wasm only);
//!   `crosscheck` runs the real pipeline on hand-made frames for the in-browser tests.
//!
//! The page side (starting the worker, attaching transforms) is in [`crate::encryption`].

pub mod codec_table;
pub mod engine;

#[cfg(target_arch = "wasm32")]
pub mod bench;
#[cfg(target_arch = "wasm32")]
pub mod crosscheck;
#[cfg(target_arch = "wasm32")]
pub mod group;
#[cfg(target_arch = "wasm32")]
mod keyring;
#[cfg(target_arch = "wasm32")]
pub mod messages;
#[cfg(target_arch = "wasm32")]
mod pipeline;
#[cfg(target_arch = "wasm32")]
pub mod webcrypto;
#[cfg(target_arch = "wasm32")]
pub mod worker;
